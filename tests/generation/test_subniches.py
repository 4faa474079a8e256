"""Sub-niche banks for local services, beauty, hospitality and education: a dentist, a hair
salon, a garage and a holiday flat each get their own topics, sentences, tags and emoji, found
from the niche text in any of the five languages."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from postplan.generation.planner import plan_entries
from postplan.generation.planner.brief_reading import niche_family, sub_niche
from postplan.generation.planner.copybank import brief_bank
from postplan.generation.planner.data import body_bank, niche_table, sub_niche_families
from postplan.generation.planner.languages import SUPPORTED
from tests.generation.helpers import make_brief

NEW = ("dental", "plumbing", "cleaning", "garage", "hair", "nails", "skincare",
       "vacation_rental", "language_school", "app")

#: (language, niche text, family, sub-niche): the words a business would use for itself.
DETECTION = [
    ("en", "family dental practice", "local_services", "dental"),
    ("de", "Zahnarztpraxis in Schwabing", "local_services", "dental"),
    ("es", "clínica dental y ortodoncia", "local_services", "dental"),
    ("fr", "cabinet dentaire", "local_services", "dental"),
    ("pt", "consultório de dentista", "local_services", "dental"),
    ("en", "plumbing and heating engineers", "local_services", "plumbing"),
    ("de", "Sanitär- und Heizungsbetrieb", "local_services", "plumbing"),
    ("es", "fontanería y calefacción", "local_services", "plumbing"),
    ("fr", "plombier chauffagiste", "local_services", "plumbing"),
    ("pt", "encanador e aquecedores a gás", "local_services", "plumbing"),
    ("en", "home and office cleaning service", "local_services", "cleaning"),
    ("de", "Gebäudereinigung und Fensterputzer", "local_services", "cleaning"),
    ("es", "empresa de limpieza", "local_services", "cleaning"),
    ("fr", "société de nettoyage", "local_services", "cleaning"),
    ("pt", "faxina e limpeza pós-obra", "local_services", "cleaning"),
    ("en", "independent garage and MOT centre", "local_services", "garage"),
    ("de", "Kfz-Werkstatt", "local_services", "garage"),
    ("es", "taller mecánico", "local_services", "garage"),
    ("fr", "garage automobile", "local_services", "garage"),
    ("pt", "oficina mecânica", "local_services", "garage"),
    ("en", "barbershop", "beauty", "hair"),
    ("de", "Friseursalon", "beauty", "hair"),
    ("es", "peluquería y barbería", "beauty", "hair"),
    ("fr", "salon de coiffure", "beauty", "hair"),
    ("pt", "barbearia", "beauty", "hair"),
    ("en", "nail salon", "beauty", "nails"),
    ("de", "Nagelstudio", "beauty", "nails"),
    ("es", "centro de uñas y manicura", "beauty", "nails"),
    ("fr", "prothésiste ongulaire, manucure", "beauty", "nails"),
    ("pt", "esmalteria e manicure", "beauty", "nails"),
    ("en", "skincare clinic", "beauty", "skincare"),
    ("de", "Kosmetikstudio für Hautpflege", "beauty", "skincare"),
    ("es", "cuidado facial y de la piel", "beauty", "skincare"),
    ("fr", "institut de soins du visage", "beauty", "skincare"),
    ("pt", "clínica de estética e pele", "beauty", "skincare"),
    ("en", "holiday rental cottage", "hospitality", "vacation_rental"),
    ("de", "Ferienwohnung an der Ostsee", "hospitality", "vacation_rental"),
    ("es", "apartamentos turísticos", "hospitality", "vacation_rental"),
    ("fr", "gîte et location de vacances", "hospitality", "vacation_rental"),
    ("pt", "casa de temporada", "hospitality", "vacation_rental"),
    ("en", "language school", "education", "language_school"),
    ("de", "Sprachschule", "education", "language_school"),
    ("es", "academia de idiomas", "education", "language_school"),
    ("fr", "école de langues", "education", "language_school"),
    ("pt", "escola de idiomas", "education", "language_school"),
    ("en", "mobile app for habit tracking", "tech", "app"),
    ("de", "Handy-App für Pendler", "tech", "app"),
    ("es", "app móvil de recetas", "tech", "app"),
    ("fr", "application mobile de covoiturage", "tech", "app"),
    ("pt", "aplicativo de finanças pessoais", "tech", "app"),
]


@pytest.mark.parametrize(("language", "niche", "family", "bank"), DETECTION)
def test_sub_niche_is_found_from_the_niche_text(language: str, niche: str, family: str,
                                                bank: str) -> None:
    brief = make_brief(language=language, niche=niche, brand="Studio Nord")
    assert niche_family(brief) == family
    assert sub_niche(brief, family) == bank
    assert brief_bank(brief).niche == bank
    assert brief_bank(brief).emoji == niche_table()["emoji"][bank]


def test_unmatched_businesses_keep_their_family_bank() -> None:
    for niche, family in (("accountant", "local_services"), ("beauty salon", "beauty"),
                          ("boutique hotel", "hospitality"), ("online coding course", "education"),
                          ("B2B SaaS for invoicing", "tech"),
                          ("physiotherapy clinic", "local_services")):
        brief = make_brief(niche=niche)
        assert (niche_family(brief), sub_niche(brief, family)) == (family, family), niche


def test_new_sub_niches_are_complete_in_every_language() -> None:
    assert set(sub_niche_families()) >= {"local_services", "beauty", "hospitality", "education",
                                         "tech"}
    for language in SUPPORTED:
        extra = body_bank(language)
        for bank in NEW:
            topics = extra["subTopics"][bank]
            assert len(set(topics)) >= 10, (language, bank)
            assert all(t in extra["bodies"] and t in extra["topicTags"] for t in topics), bank
            assert len(set(extra["subTags"][bank])) >= 14, (language, bank)
            assert len(extra["lines"][bank]) >= 2, (language, bank)
            assert niche_table()["emoji"][bank]


@pytest.mark.parametrize("language", SUPPORTED)
def test_a_dentist_gets_no_plumbing(language: str) -> None:
    """The old single local-services bank gave a dentist repair and plumbing copy."""
    brief = make_brief(language=language, niche="dentist / dental practice", brand="Praxis Weiss",
                       goals="more appointment bookings", days=92, audience="families")
    entries = plan_entries(brief)
    extra = body_bank(language)
    plumbing = {*extra["subTopics"]["plumbing"], *extra["subTopics"]["garage"],
                *extra["subTopics"]["cleaning"]}
    foreign_tags = {t.casefold() for b in ("plumbing", "garage", "cleaning")
                    for t in extra["subTags"][b]} - {t.casefold() for t in
                                                      extra["subTags"]["dental"]}
    foreign_tags |= {t.casefold() for t in extra["moreTags"]["local_services"]}
    text = " ".join(f"{e.hook} {e.caption}" for e in entries).casefold()
    for word in ("plumb", "boiler", "radiator", "heizung", "heizkörper", "rohr", "caldera",
                 "fontaner", "chaudière", "plomb", "encanador", "aquecedor", "brake", "bremse"):
        assert word not in text, (language, word)
    assert not any(t in text for t in (x.casefold() for x in plumbing))
    tags = Counter(t.casefold() for e in entries for t in e.hashtags)
    assert not set(tags) & foreign_tags, set(tags) & foreign_tags
    assert set(tags) & {t.casefold() for t in extra["subTags"]["dental"]}
    assert "🔧" not in text


def test_a_hair_salon_gets_no_skincare_and_a_garage_no_dentistry() -> None:
    hair = plan_entries(make_brief(language="fr", niche="salon de coiffure", brand="Maison B",
                                   timezone="Europe/Paris", days=60))
    topics = {t for t in body_bank("fr")["subTopics"]["skincare"]}
    assert not any(t in e.caption for e in hair for t in topics)
    assert any("cheveux" in e.caption or "coupe" in e.caption for e in hair)
    garage = plan_entries(make_brief(niche="car repair garage", brand="Ancoats Auto",
                                     timezone="Europe/London", days=60))
    text = " ".join(e.caption for e in garage).casefold()
    assert "teeth" not in text and "dentist" not in text
    assert "car" in text.split() or "tyre" in text


@pytest.mark.parametrize("language", SUPPORTED)
def test_a_92_day_calendar_of_a_new_sub_niche_stays_fast(language: str) -> None:
    brief = make_brief(language=language, niche="Zahnarzt dentist", days=92,
                       postsPerWeek={"instagram": 7, "tiktok": 7})
    plan_entries(brief)  # warm the caches
    start = time.process_time()
    entries = plan_entries(brief)
    assert time.process_time() - start < 0.1 and len(entries) > 150
