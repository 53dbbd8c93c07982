"""A request body that names an object that does not exist (a summary id to
bisect, a machine name in a detection policy) is a 404 naming the field and
the value, as a path naming no object is: the body is well formed (a 400 would
say it is not, and no schema can say which ids exist)."""
from __future__ import annotations

from rest_framework import serializers
from rest_framework.exceptions import NotFound


class MissingIsNotFound:
    """A related field mixin: its 'does_not_exist' failure is a 404."""

    def fail(self, key, **kwargs):
        if key == "does_not_exist":
            value = kwargs.get("pk_value", kwargs.get("value"))
            model = self.get_queryset().model._meta.verbose_name
            raise NotFound(f"{self.field_name}: no {model} {value!r}.")
        super().fail(key, **kwargs)


class ExistingPrimaryKeyField(MissingIsNotFound, serializers.PrimaryKeyRelatedField):
    """An object by its id; an id that names none is a 404."""
