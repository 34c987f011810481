"""A slot a lower app offers and exactly one higher app fills in its AppConfig.ready() (docs/architecture.md,
Layers): the lower app asks through it without importing the higher one.

Asking an empty slot is a configuration error (the filling app is missing from INSTALLED_APPS, or its ready() did
not run) and fails loudly; so does filling a slot a second time with something else, which would otherwise make the
answer depend on the order the apps happen to start in.
"""

from typing import Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")


class Slot(Generic[T]):
    def __init__(self, name: str, *, filled_by: str):
        self.name, self.filled_by = name, filled_by
        self._value: T | None = None

    def fill(self, value: T) -> None:
        if self._value is not None and self._value != value:
            raise ImproperlyConfigured(
                f"{self.name} is filled already ({self._value!r}); {value!r} may not replace it"
            )
        self._value = value

    def get(self) -> T:
        if self._value is None:
            raise LookupError(f"nothing fills {self.name}: {self.filled_by}'s ready() does")
        return self._value
