from django.contrib import admin

from shopdemo.catalog.models import Order, OrderLine, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "category", "colour", "family", "price", "stock")
    list_filter = ("category",)
    search_fields = ("id", "name")


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "created_at")
    inlines = (OrderLineInline,)
