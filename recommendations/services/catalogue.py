"""The default intervention catalogue. Every figure is a stated assumption with its basis, editable by
administrators on the catalogue page; the platform never presents these costs or effects as measured facts.

Shared assumptions (README, "Recommendations"): households = population ÷ 3.5 persons per household (Census
2017 national average, rounded); school-age children (6–16) = 19% of the population (Census 2017 age structure);
rural children = children × the district's share of rural populated places; secondary-age = 40% of school-age.
"""

from decimal import Decimal

DEFAULT_INTERVENTIONS = [
    {
        "code": "electricidad-red",
        "name": "Ampliación de la red eléctrica",
        "intervention_type": "electricity",
        "description": "Extend the public grid so that at least 95% of dwellings have electricity.",
        "cost_fixed_pen": 120_000,
        "cost_per_household_pen": 4_500,
        "cost_per_student_pen": 0,
        "effects": [{"feature": "electricidad", "op": "at_least", "value": 95}],
        "eligibility": [{"feature": "electricidad", "op": "lt", "value": 90}],
        "beneficiaries": "children",
        "lead_time_months": 18,
        "source": "Assumption: rural grid extension costs around S/ 4,000–5,000 per new connection (order of "
        "magnitude of MINEM rural electrification projects), plus S/ 120,000 for design and supervision "
        "per district. Cost per household applies to the households still without electricity.",
    },
    {
        "code": "agua-red",
        "name": "Agua potable por red pública",
        "intervention_type": "water",
        "description": "Raise the share of dwellings with public-network water to at least 90%.",
        "cost_fixed_pen": 250_000,
        "cost_per_household_pen": 6_000,
        "cost_per_student_pen": 0,
        "effects": [{"feature": "agua", "op": "at_least", "value": 90}],
        "eligibility": [{"feature": "agua", "op": "lt", "value": 85}],
        "beneficiaries": "children",
        "lead_time_months": 24,
        "source": "Assumption: rural water connections cost S/ 5,000–8,000 per household in the order of magnitude "
        "of PNSR (Programa Nacional de Saneamiento Rural) projects; S/ 250,000 fixed per district.",
    },
    {
        "code": "desague-red",
        "name": "Desagüe por red pública",
        "intervention_type": "sewerage",
        "description": "Raise the share of dwellings connected to public sewerage to at least 80%.",
        "cost_fixed_pen": 350_000,
        "cost_per_household_pen": 9_000,
        "cost_per_student_pen": 0,
        "effects": [{"feature": "desague", "op": "at_least", "value": 80}],
        "eligibility": [{"feature": "desague", "op": "lt", "value": 70}],
        "beneficiaries": "children",
        "lead_time_months": 30,
        "source": "Assumption: sewerage costs more than water per connection (S/ 9,000 per household, S/ 350,000 "
        "fixed), in the order of magnitude of PNSR sanitation projects.",
    },
    {
        "code": "internet-hogares",
        "name": "Acceso a internet",
        "intervention_type": "internet",
        "description": "Bring household internet access to at least 60% (backbone node plus last-mile subsidy).",
        "cost_fixed_pen": 300_000,
        "cost_per_household_pen": 700,
        "cost_per_student_pen": 0,
        "effects": [{"feature": "internet", "op": "at_least", "value": 60}],
        "eligibility": [{"feature": "internet", "op": "lt", "value": 40}],
        "beneficiaries": "children",
        "lead_time_months": 12,
        "source": "Assumption: a district node of a regional broadband network (PRONATEL-type projects) about "
        "S/ 300,000, and S/ 700 per newly connected household for equipment and a subsidy.",
    },
    {
        "code": "transporte-escolar",
        "name": "Transporte escolar rural",
        "intervention_type": "transport",
        "description": "School transport for rural pupils: halves the effective distance from populated places "
        "to school.",
        "cost_fixed_pen": 80_000,
        "cost_per_household_pen": 0,
        "cost_per_student_pen": 1_500,
        "effects": [{"feature": "places_mean_distance_km", "op": "multiply", "value": 0.5}],
        "eligibility": [
            {"feature": "places_rural_share", "op": "gte", "value": 60},
            {"feature": "places_mean_distance_km", "op": "gte", "value": 5},
        ],
        "beneficiaries": "rural_children",
        "lead_time_months": 6,
        "source": "Assumption: S/ 1,500 per rural pupil for one school year of transport and S/ 80,000 to set the "
        "service up. The effect enters the model as a halved mean distance to the district capital.",
    },
    {
        "code": "residencia-estudiantil",
        "name": "Residencia estudiantil para secundaria rural",
        "intervention_type": "residence",
        "description": "A student residence (Secundaria con Residencia Estudiantil) for remote rural secondary "
        "pupils: halves the farthest distance to school.",
        "cost_fixed_pen": 1_500_000,
        "cost_per_household_pen": 0,
        "cost_per_student_pen": 4_000,
        "effects": [
            {"feature": "places_max_distance_km", "op": "multiply", "value": 0.5},
            {"feature": "places_mean_distance_km", "op": "multiply", "value": 0.8},
        ],
        "eligibility": [
            {"feature": "places_rural_share", "op": "gte", "value": 70},
            {"feature": "places_max_distance_km", "op": "gte", "value": 15},
        ],
        "beneficiaries": "secondary_rural",
        "lead_time_months": 24,
        "source": "Assumption after MINEDU's Secundaria con Residencia Estudiantil model: about S/ 1.5 million to "
        "build and equip a residence and S/ 4,000 per resident pupil and year.",
    },
    {
        "code": "aulas-rehabilitacion",
        "name": "Aulas nuevas y rehabilitación de locales escolares",
        "intervention_type": "classrooms",
        "description": "New classrooms and rehabilitation of school buildings.",
        "cost_fixed_pen": 400_000,
        "cost_per_household_pen": 0,
        "cost_per_student_pen": 2_500,
        "assumed_effect_pp": 1.5,
        "assumed_effect_range": [0.0, 3.0],
        "eligibility": [{"feature": "pct_pobreza_total", "op": "gte", "value": 30}],
        "beneficiaries": "children",
        "lead_time_months": 18,
        "source": "Assumption: S/ 2,500 per pupil plus S/ 400,000 per district. No district-level variable "
        "measures school buildings, so the model cannot estimate the effect; we assume 1.5 points of "
        "the disparity index (range 0–3), because evidence on infrastructure and test scores in Latin "
        "America is mixed. The platform's A/B evaluation is the way to replace this assumption.",
    },
    {
        "code": "acompanamiento-docente",
        "name": "Formación y acompañamiento docente",
        "intervention_type": "teachers",
        "description": "In-school coaching of teachers (acompañamiento pedagógico).",
        "cost_fixed_pen": 50_000,
        "cost_per_household_pen": 0,
        "cost_per_student_pen": 600,
        "assumed_effect_pp": 3.0,
        "assumed_effect_range": [1.0, 5.0],
        "eligibility": [{"feature": "places_rural_share", "op": "gte", "value": 50}],
        "beneficiaries": "children",
        "lead_time_months": 12,
        "source": "Assumption: S/ 600 per pupil and year plus S/ 50,000 per district. No district-level variable "
        "measures teaching, so the model cannot estimate the effect; evaluations of MINEDU's coaching "
        "programmes report gains of roughly 0.1–0.25 standard deviations in ECE scores, which we "
        "translate conservatively to 3 points of the disparity index (range 1–5). "
        "Eligible where at least half the populated places are rural: the programme serves rural multigrade schools.",
    },
]


def interventions_seed() -> int:
    """Create the default interventions that do not exist yet; never overwrite an administrator's edits."""
    from recommendations.models import Intervention

    created = 0
    for spec in DEFAULT_INTERVENTIONS:
        fields = {**spec}
        code = fields.pop("code")
        for money in ("cost_fixed_pen", "cost_per_household_pen", "cost_per_student_pen"):
            fields[money] = Decimal(str(fields[money]))
        _intervention, was_created = Intervention.objects.get_or_create(code=code, defaults=fields)
        created += was_created
    return created
