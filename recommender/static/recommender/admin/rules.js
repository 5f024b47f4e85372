// Merchandising rule form: show only the fields of the chosen target (product, category or
// price range). Purely cosmetic: the server validates whatever is posted.
"use strict";
{
    const FIELDS = {product: ["product_key"], category: ["category"], price_range: ["min_price", "max_price"]};

    function update() {
        const target = document.getElementById("id_target");
        if (!target) {
            return;
        }
        for (const [value, names] of Object.entries(FIELDS)) {
            for (const name of names) {
                const row = document.querySelector(".form-row.field-" + name);
                const hasError = row && row.querySelector(".errorlist");
                if (row) {
                    row.hidden = target.value !== "" && target.value !== value && !hasError;
                }
            }
        }
    }

    window.addEventListener("load", function() {
        update();
        const target = document.getElementById("id_target");
        if (target) {
            target.addEventListener("change", update);
        }
    });
}
