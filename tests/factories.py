"""Factories for the core domain. Rows that carry rules (contracts, memberships) are made through services,
so tests start from the same audited state the application would produce."""

from __future__ import annotations

import datetime as dt

import factory

from sekisho.core.models import Organisation, User

PASSWORD = "correct-horse-battery-staple-42"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"組織{n}")
    kind = Organisation.Kind.CONTRACTOR


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"利用者 {n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")
    organisation = factory.SubFactory(OrganisationFactory)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


PERIOD = (dt.date(2026, 6, 1), dt.date(2027, 3, 19))
