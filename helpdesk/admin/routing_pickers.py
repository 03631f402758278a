"""The routing pickers: known values, in the viewer's language, for a rule's conditions and for
*Probar* — countries (stored as ISO codes), the customers' plans, the languages, the account
states (codes shown in words). Nothing typed by hand is stored or tested."""

from __future__ import annotations

from flask_admin.form import Select2Field
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms.validators import StopValidation

from .. import accounts, queries, rules
from ..accounts import BILLING_CODES, SUBSCRIPTION_CODES
from ..forms import RoutingTestForm

__all__ = ["BILLING_CODES", "LANGUAGE_CHOICES", "SUBSCRIPTION_CODES", "PickerField",
           "RoutingProbeForm", "country_choices", "state_choices"]


class PickerField(Select2Field):
    """A searchable picker over known values (the view fills `choices` per request, in the
    viewer's language). A value that is not one of them (a country typed by hand: "España"
    was stored as "Es") is refused with `message`, never cut or guessed."""

    def __init__(self, label=None, validators=None, *, message, upper=False, **kwargs):
        for name in ("allow_blank", "blank_text", "choices", "coerce"):
            kwargs.pop(name, None)
        super().__init__(label, validators, allow_blank=True, blank_text="—", choices=[],
                         **kwargs)
        self.message, self.upper = message, upper

    def process_data(self, value):
        self.data = (value.upper() if self.upper else value) if value else None

    def process_formdata(self, valuelist):
        if valuelist:
            value = (valuelist[0] or "").strip()
            self.data = None if value in ("", "__None") else value

    def pre_validate(self, form):
        if self.data is not None and self.data not in {value for value, _ in self.choices}:
            raise StopValidation(str(self.message))


def country_choices() -> list[tuple[str, str]]:
    """Every country as (ISO 3166 code, name in the viewer's language), sorted by name
    (Babel's locale data; regions such as "Europa" or "Mundo" left out)."""
    names = get_locale().territories
    codes = [code for code in names if len(code) == 2 and code.isalpha()
             and code not in ("EU", "EZ", "UN", "QO", "XA", "XB", "ZZ")]
    return sorted(((code, names[code]) for code in codes), key=lambda c: rules.fold(c[1]))


LANGUAGE_CHOICES = (("es", "Español"), ("en", "English"))


def state_choices(codes) -> list[tuple[str, str]]:
    """An account state's known codes as (code, words in the viewer's language)."""
    return [(code, accounts.state_label(code)) for code in codes]


class RoutingProbeForm(RoutingTestForm):
    """*Probar* with the rule form's pickers: a sample ticket's customer is described with the
    same known values a rule can ask for (an unknown value is refused, not guessed)."""

    plan = PickerField(_l("Plan"), message=_l("Elige un plan de la lista."))
    country = PickerField(_l("País"), message=_l("Elige el país de la lista."), upper=True)
    subscription_state = PickerField(_l("Suscripción"),
                                     message=_l("Elige un estado de la lista."))
    billing_state = PickerField(_l("Facturación"), message=_l("Elige un estado de la lista."))

    def fill(self) -> RoutingProbeForm:
        """Fill the pickers' choices (per request: the viewer's language; the customers' plans
        and those the rules ask for, so every rule can be tried)."""
        plans = queries.known_plans()
        asked = {rule.plan for rule in queries.routing_rules_ordered() if rule.plan}
        plans += sorted(asked - set(plans), key=rules.fold)
        self.plan.choices = [(plan, plan) for plan in plans]
        self.country.choices = country_choices()
        self.subscription_state.choices = state_choices(SUBSCRIPTION_CODES)
        self.billing_state.choices = state_choices(BILLING_CODES)
        return self
