"""Test-only host product models of different shapes (int, str and UUID keys)."""

import uuid

from django.db import models


class Product(models.Model):
    """A typical shop product: auto integer key, flat fields."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    image = models.ImageField(upload_to="products/", blank=True)
    category = models.CharField(max_length=100, blank=True)
    colour = models.CharField(max_length=50, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    in_stock = models.BooleanField(default=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    """An H&M-like article: 10-character string key, category through a relation, stock count."""

    article_id = models.CharField(max_length=10, primary_key=True)
    title = models.CharField(max_length=200)
    details = models.TextField(blank=True)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL)
    photo_path = models.CharField(max_length=300, blank=True)
    stock = models.IntegerField(default=0)
    cost = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return self.title


class Gadget(models.Model):
    """UUID key and no image, price or stock at all."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    label = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.label
