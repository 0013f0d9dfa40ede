from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _seed(sender, **kwargs):
    from recommendations.services.catalogue import interventions_seed

    interventions_seed()


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    verbose_name = "Recommendations"

    def ready(self):
        # The catalogue exists from the first migrate on; later runs add new defaults and keep edits.
        post_migrate.connect(_seed, sender=self)
