"""Forms of the web UI. They check what a person typed and turn it into the services'
arguments; the services decide what is allowed and save."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.forms.renderers import DjangoTemplates
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from headway.accounts.models import Team, User
from headway.goals.choices import GoalStatus, Horizon
from headway.goals.models import Goal
from headway.kpis.choices import Direction, EntryKind, Grain, Unit

KPI_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Words of the URLs under /kpis/ that a KPI key would hide.
RESERVED_KPI_KEYS = {"new", "preview"}


# The app database keeps numbers of 30 digits, 10 after the point; SQLite reads back only
# 15 significant digits, and twenty 9s come back as 1e20, which overflows the column when
# read: one digit fewer before the point, as in the API.
MAX_WHOLE_DIGITS = 19
# Thousands separators and spaces people type in numbers.
IGNORED_IN_NUMBERS = str.maketrans("", "", ", _\u00a0\u202f")
_no_nul = ProhibitNullCharactersValidator()
# The codes of the errors for what no database keeps (as opposed to what is not yet right).
UNKEEPABLE = {_no_nul.code, "max_whole_digits"}


def check_whole_digits(value: Decimal | None) -> None:
    """A number the app database can keep: at most MAX_WHOLE_DIGITS before the point."""
    if value is None or not value.is_finite():
        return
    whole = max(value.adjusted() + 1, 0)
    if whole > MAX_WHOLE_DIGITS:
        raise ValidationError(
            ngettext(
                "The number is too large: use at most %(max)s digit before the decimal point.",
                "The number is too large: use at most %(max)s digits before the decimal point.",
                MAX_WHOLE_DIGITS,
            )
            % {"max": MAX_WHOLE_DIGITS},
            code="max_whole_digits",
        )


def typed_number(text: str, *, scale: int = 1, percent_sign: bool = False) -> Decimal | None:
    """A number typed as text (thousands separators allowed), divided by `scale`; None when
    empty, a ValidationError with a sentence when it is not a number or too long."""
    _no_nul(text)
    cleaned = text.strip().translate(IGNORED_IN_NUMBERS)
    if percent_sign:
        cleaned = cleaned.removesuffix("%")
    if not cleaned:
        return None
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ValidationError(_("“%(text)s” is not a number.") % {"text": text.strip()[:40]})
    check_whole_digits(number)
    return number / scale


def text_problems(text: str) -> list[str]:
    """Why a text cannot be kept (a NUL), for the checks that answer as it is typed."""
    try:
        _no_nul(text)
    except ValidationError as error:
        return list(error.messages)
    return []


def posted_text(data: Mapping[str, Any], name: str) -> str:
    """A text a view reads from the posted data itself, without a form: a NUL (which no
    database text can hold) is a ValidationError naming the field."""
    text = str(data.get(name, ""))
    try:
        _no_nul(text)
    except ValidationError as error:
        raise ValidationError({name: error.messages}) from None
    return text


def _people() -> Any:
    return User.objects.filter(is_active=True).order_by("display_name", "email")


class FieldBlocks(DjangoTemplates):
    """Renders each field in its own block: label, help, errors and input together."""

    field_template_name = "web/_field.html"


class HeadwayForm(forms.Form):
    """Fields in blocks, labels without colons."""

    default_renderer = FieldBlocks()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        # Whatever digits a field allows, no number is longer than the database keeps.
        for field in self.fields.values():
            if isinstance(field, forms.DecimalField):
                field.validators.append(check_whole_digits)


class VersionedForm(HeadwayForm):
    """Carries the version of the object being edited, for optimistic concurrency."""

    version = forms.IntegerField(widget=forms.HiddenInput)


def service_errors(form: forms.Form, error: ValidationError, names: dict[str, str]) -> None:
    """Shows a service's ValidationError on the form, each message beside its field."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            name = names.get(field, field)
            for message in messages:
                form.add_error(name if name in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


class GoalForm(VersionedForm):
    key = forms.SlugField(
        label=_("Key"),
        max_length=100,
        help_text=_("A short name for links and files: letters, digits, - and _."),
    )
    title = forms.CharField(label=_("Title"), max_length=300)
    horizon = forms.ChoiceField(label=_("Horizon"), choices=Horizon.choices)
    statement = forms.CharField(
        label=_("Measurable statement"),
        max_length=500,
        required=False,
        help_text=_("For example: raise the new product's market share by 10% this year."),
    )
    parent = forms.ModelChoiceField(
        label=_("Part of goal"), queryset=Goal.objects.none(), required=False
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    start = forms.DateField(
        label=_("Start"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    due = forms.DateField(
        label=_("Due"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    status = forms.ChoiceField(label=_("Status"), choices=GoalStatus.choices)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(
        self,
        *args: Any,
        teams: list[Team],
        team_required: bool,
        goal: Goal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        parents = Goal.objects.order_by("position", "key")
        if goal is None:
            del self.fields["status"]
            del self.fields["version"]
        else:
            del self.fields["key"]
            parents = parents.exclude(pk=goal.pk)
        parent_field = self.fields["parent"]
        team_field = self.fields["team"]
        owner_field = self.fields["owner"]
        assert isinstance(parent_field, forms.ModelChoiceField)
        assert isinstance(team_field, forms.ModelChoiceField)
        assert isinstance(owner_field, forms.ModelChoiceField)
        parent_field.queryset = parents
        team_field.queryset = Team.objects.filter(pk__in=[team.pk for team in teams])
        team_field.required = team_required
        owner_field.queryset = _people()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, due = data.get("start"), data.get("due")
        if start and due and start > due:
            self.add_error("due", _("The due date is before the start."))
        return data


class KpiForm(VersionedForm):
    key = forms.RegexField(
        label=_("Key"),
        regex=KPI_KEY_PATTERN,
        max_length=100,
        help_text=_("Letters, digits and _, starting with a letter; it cannot change later."),
        error_messages={"invalid": _("Use letters, digits and _, starting with a letter.")},
    )
    name = forms.CharField(label=_("Name"), max_length=300)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    entry = forms.ChoiceField(
        label=_("How values are obtained"), choices=EntryKind.choices, initial=EntryKind.FORMULA
    )
    manual_approval = forms.BooleanField(
        label=_("Values entered by hand need the owner's approval"),
        required=False,
        help_text=_(
            "Only for KPIs entered by hand: others' entries count once the owner approves."
        ),
    )
    formula = forms.CharField(
        label=_("Formula"),
        max_length=2000,
        required=False,
        help_text=_("Measures combined with + - * / and prev(measure), e.g. won_deals / leads."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    unit = forms.ChoiceField(label=_("Unit"), choices=Unit.choices)
    direction = forms.ChoiceField(
        label=_("Direction"), choices=Direction.choices, initial=Direction.UP
    )
    grain = forms.ChoiceField(label=_("Period"), choices=Grain.choices, initial=Grain.MONTH)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    green_from = forms.DecimalField(
        label=_("On track from (% of target)"),
        initial=Decimal(100),
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=4,
    )
    amber_from = forms.DecimalField(
        label=_("At risk from (% of target)"),
        initial=Decimal(90),
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=4,
        help_text=_("Below this the KPI is off track."),
    )
    goals = forms.ModelMultipleChoiceField(
        label=_("Goals it serves"),
        queryset=Goal.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    # Service field names that the form shows under another name.
    SERVICE_NAMES: ClassVar[dict[str, str]] = {
        "threshold_green": "green_from",
        "threshold_amber": "amber_from",
    }

    def __init__(
        self, *args: Any, teams: list[Team], team_required: bool, editing: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["key"]
        else:
            del self.fields["version"]
        team_field = self.fields["team"]
        owner_field = self.fields["owner"]
        goals_field = self.fields["goals"]
        assert isinstance(team_field, forms.ModelChoiceField)
        assert isinstance(owner_field, forms.ModelChoiceField)
        assert isinstance(goals_field, forms.ModelMultipleChoiceField)
        team_field.queryset = Team.objects.filter(pk__in=[team.pk for team in teams])
        team_field.required = team_required
        owner_field.queryset = _people()
        goals_field.queryset = Goal.objects.order_by("position", "key")
        # The formula is checked as it is typed (htmx), and again when the entry changes.
        check = reverse("web:formula_check")
        self.fields["formula"].widget.attrs.update(
            {
                "hx-post": check,
                "hx-trigger": "input changed delay:400ms, load",
                "hx-target": "#formula-check",
                "hx-include": "[name='entry']",
                "hx-sync": "this:replace",
                "aria-describedby": "id_formula_helptext formula-check",
            }
        )
        self.fields["entry"].widget.attrs.update(
            {
                "hx-post": check,
                "hx-trigger": "change",
                "hx-target": "#formula-check",
                "hx-include": "[name='formula']",
            }
        )

    def clean_key(self) -> str:
        key: str = self.cleaned_data["key"]
        if key in RESERVED_KPI_KEYS:
            raise ValidationError(_("This key is taken by a page of Headway; choose another."))
        return key

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("entry") == EntryKind.FORMULA and not (data.get("formula") or "").strip():
            self.add_error("formula", _("A KPI computed by a formula needs its formula."))
        green, amber = data.get("green_from"), data.get("amber_from")
        if green is not None and amber is not None and amber > green:
            self.add_error("amber_from", _("At risk must not start above on track."))
        return data

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data as the KPI services' keyword arguments (without goals)."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "entry": data["entry"],
            "manual_approval": bool(data.get("manual_approval")),
            "formula": (data["formula"] or "").strip(),
            "unit": data["unit"],
            "direction": data["direction"],
            "grain": data["grain"],
            "team": data["team"],
            "owner": data["owner"],
            "threshold_green": data["green_from"] / 100,
            "threshold_amber": data["amber_from"] / 100,
        }


class TargetForm(HeadwayForm):
    effective_from = forms.CharField(
        label=_("From period"),
        max_length=10,
        help_text=_("The first period it applies to: 2026-07, 2026-Q3, 2026-W27 or 2026."),
    )
    value = forms.DecimalField(label=_("Target"), max_digits=24, decimal_places=10)
    where_dimension = forms.ChoiceField(label=_("For"), required=False)
    where_value = forms.CharField(
        label=_("Group"),
        max_length=200,
        required=False,
        help_text=_("The value of the dimension, e.g. a team's key; empty for the total."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why the target changes; it stays in the history."),
    )

    def __init__(self, *args: Any, dimensions: list[str], percent: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.percent = percent
        where = self.fields["where_dimension"]
        assert isinstance(where, forms.ChoiceField)
        where.choices = [("", _("The whole organisation")), *[(d, d) for d in dimensions]]
        if percent:
            self.fields["value"].label = _("Target (%)")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("where_dimension")) != bool((data.get("where_value") or "").strip()):
            self.add_error(
                "where_value", _("A group's target names both the dimension and the group.")
            )
        return data

    def target_value(self) -> Decimal:
        value: Decimal = self.cleaned_data["value"]
        return value / 100 if self.percent else value
