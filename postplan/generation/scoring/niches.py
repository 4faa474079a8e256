"""The scorer's own idea of a niche: word stems per niche family, in five languages.

Deliberately independent of the planner's topic banks: the quality report judges copy from the
outside, so a bank that drifts off-niche shows up here instead of grading itself. A word matches
a stem when it starts with it ("kaffee" matches "Kaffeebohnen", "espresso" matches "espressos").
"""

from __future__ import annotations

import re
from functools import lru_cache


def _stems(text: str) -> frozenset[str]:
    # Casefolded like the words they are matched with ("größe" → "grösse", as `words` folds).
    return frozenset(text.casefold().split())


#: family → stems (casefolded). English, German, Spanish, French and Portuguese mixed in one set:
#: the stems are distinct enough, and copy in any of them should match.
FAMILIES: dict[str, frozenset[str]] = {
    "food_drink": _stems(
        "coffee café cafe cafés kaffee kaff espresso latte cappuccino flat brew roast röst "
        "bean bohne grano grão barista bakery bäcker backen bake pastr gebäck kuchen cake "
        "tarta gâteau bolo bread brot pan pain pão food essen comida nourriture comida "
        "menu menü recipe rezept receta recette receita drink getränk bebida boisson "
        "cup tasse taza xícara milk milch leche lait leite oat hafer avena avoine aveia "
        "tea tee té thé chá restaurant kitchen küche cocina cuisine cozinha dish gericht plato "
        "plat prato chef taste geschmack sabor goût flavor flavour brunch breakfast frühstück "
        "desayuno petit-déjeuner café-da-manhã lunch dinner abendessen cena dîner jantar "
        "wine wein vino vin vinho beer bier cerveza bière cerveja filter siebträger "
        "mühle grind molino moulin moagem sweet süß dulce sucré doce snack order bestell "
        "pedido commande encomenda butter mantequ beurre manteig flour mehl harina farine "
        "farinha oven ofen horno horne forno croissant cruasán hojaldre bolle viennois teig "
        "dough sourdough sauerteig levain fermento confeit boulang panader padar gebacken "
        "baguette fournil brau bar cocktail spirit spirituose destilad spiritueux glass glas copa "
        "verre copo taça"
    ),
    "fitness": _stems(
        "fitness fit workout training train entrenamiento entraînement treino exercise übung "
        "ejercicio exercice exercício gym studio coach trainer entrenador entraîneur "
        "treinador strength kraft fuerza force força cardio hiit squat kniebeuge sentadilla "
        "agachamento wiederholung repetición répétition repetição sätze "
        "muscle muskel músculo muscle run lauf correr course corrida mobility mobilität "
        "movilidad mobilité mobilidade stretch dehn estira étire alongamento protein "
        "proteín protéin recovery regeneration recuperación récupération recuperação "
        "sweat schweiß sudor sueur suor weight gewicht peso poids body körper cuerpo corps "
        "corpo health gesund salud santé saúde habit gewohnheit hábito habitude goal ziel "
        "meta objectif objetivo plank core abs yoga pilates warm aufwärm calentamiento "
        "échauffement aquecimento lift entrena trein plancha prancha planche gainage postur"
    ),
    "beauty": _stems(
        "beauty schön belleza beauté beleza skin haut piel peau pele makeup make-up "
        "maquillaje maquillage maquiagem hair haar cabello pelo cheveux cabelo nail nagel "
        "uña ongle unha glow serum séru cream creme crema crème lip lippe labio lèvre lábio "
        "routine rutina rotina spf salon facial gesicht rostro visage rosto lash wimper "
        "pestaña cil cílio brow braue ceja sourcil sobrancelha uñas cutícul cuticle cuticule "
        # hair salons, barbers, nail studios, skincare
        "barb bart coiff friseur frisur peluquer cabeleir balayage strähn mèche mecha locken "
        "boucl rizo cacho fade dégradé degrad shampoo shampoing champú xampu manicur manucur "
        "maniküre pedicur pediküre vernis retinol rétinol"
    ),
    "fashion": _stems(
        "fashion mode moda style stil estilo look outfit kleid dress vestido robe wear trag "
        "llevar porter usar jacket jacke chaqueta veste jaqueta shoe schuh zapato chaussure "
        "sapato denim jeans fabric stoff tela tissu tecido collection kollektion colección "
        "collection coleção season saison temporada estação size größe talla taille tamanho "
        "closet schrank armario placard armário vintage thrift sustainable nachhaltig "
        "knit strick maille tricô wool wolle laine lana wardrobe garderobe garde-robe "
        "guarda-roupa tenue prenda accessoi accesori"
    ),
    "tech": _stems(
        "software app saas tool feature funktion función fonction recurso product produkt "
        "producto produit produto update integrat workflow automat dashboard data daten "
        "datos données dados api cloud code release launch user nutzer usuario utilisateur "
        "usuário team onboarding demo plan pricing preis precio prix preço ai ki ia "
        "productiv produktiv productiv productiv setup bug sprint roadmap intégr integrac "
        "integraç logiciel outil herramienta ferramenta werkzeug shortcut atajo raccourci "
        # mobile apps
        "version versión versão widget screen bildschirm pantalla écran notification mitteilung "
        "notificac notificaç sync synchron sincron offline device gerät dispositivo appareil "
        "aparelho smartphone handy móvil celular appli aplicativo aplicación atalho"
    ),
    "local_services": _stems(
        "service dienst servicio service serviço repair reparatur reparación réparation "
        "reparo appointment termin cita rendez-vous agendamento clean reinig limpi nettoy "
        "limp plumb klempner fontan plomb encan electric elektr eléctr électr elétr garden "
        "garten jardín jardin jardim home haus casa maison neighbo nachbar vecin voisin "
        "vizinh quote angebot presupuesto devis orçamento customer kunde cliente client "
        "local lokal booking buchung reserva réservation handwerk reparier notdienst "
        "rohr pipe tubería tuyau leak leck fuite vazamento sanitär heizung heating "
        "calefacción chauffage repar emergenc emergênc urgenc notfall entretien wartung "
        "mantenimiento manutenç maintenance "
        # dental practices
        "zahn dental dentist dentaire dentiste dentista dentes dientes dents tooth teeth "
        "floss prophyla karies caries carie enamel émail esmalte gencive gengiva encía encías "
        "tartar tartre détartr sarro tártaro kieferorthop orthodont ortodon "
        # plumbing and heating
        "heiz wasserhahn wasserdruck abfluss tap faucet grifo robinet torneira drain desagüe "
        "ralo radiator radiador radiateur boiler kessel caldera chaudière aquecedor "
        "wärmepumpe dusche shower ducha douche chuveiro "
        # cleaning
        "putz ménage faxina "
        # garages
        "car auto coche carro voiture fahrzeug vehicle vehículo véhicule veículo tyre tire "
        "reifen neumát pneu brake bremse freno frein freio engine motor moteur oil öl aceite "
        "huile óleo garage werkstatt taller atelier oficina mechanic mechanik mecánic mécani "
        "mecânic mot itv inspektion batter clutch kupplung embrague embray embreagem vidange"
    ),
    "education": _stems(
        "learn lern aprend apprend appren aprend course kurs curso cours lesson lektion lección "
        "leçon lição study studi estudi étud estud teach lehr enseñ enseign ensin tip tipp "
        "consejo conseil dica guide leitfaden guía guia student schüler estudiante étudiant "
        "aluno class klasse clase classe aula skill fähigkeit habilidad compétence habilidade "
        "creator video newsletter podcast exam prüfung examen exame book buch libro livre livro"
    ),
    "retail": _stems(
        "shop store laden geschäft tienda boutique magasin loja product produkt producto "
        "produit produto sale rabatt oferta solde promoção new neu nuevo nouveau novo "
        "arrival gift geschenk regalo cadeau presente price preis precio prix preço deal "
        "angebot collection sortiment stock lager order bestell pedido commande schaufenster "
        "escaparate vitrine"
    ),
    "hospitality": _stems(
        "hotel room zimmer habitación chambre quarto stay aufenthalt estancia séjour estadia "
        "guest gast huésped client hóspede travel reise viaje voyage viagem book buch "
        "reserv breakfast frühstück desayuno pool spa view aussicht vista vue check-in "
        "trip ausflug excursión excursion passeio tour reception rezeption recepción réception "
        "recepç hôte hôtel gäste bar cocktail petit-déjeuner"
    ),
    "nonprofit": _stems(
        "donat spende doação volunteer ehrenamt voluntar bénévol voluntár cause mission "
        "misión mission missão communit gemeinschaft comunidad communauté comunidade "
        "support unterstütz apoy soutien apoi impact wirkung impacto fundrais charity "
        "help hilf ayud aide ajud campaign kampagne campaña campagne campanha donac doaç don"
    ),
}

#: Words in a niche description that pick its family (checked before the stems).
NICHE_HINTS: tuple[tuple[str, str], ...] = (
    ("coffee", "food_drink"), ("café", "food_drink"), ("cafe", "food_drink"),
    ("kaffee", "food_drink"), ("bakery", "food_drink"), ("restaurant", "food_drink"),
    ("fitness", "fitness"), ("coach", "fitness"), ("gym", "fitness"), ("yoga", "fitness"),
    ("personal trainer", "fitness"), ("entrenador", "fitness"),
    ("beauty", "beauty"), ("skincare", "beauty"), ("salon", "beauty"), ("makeup", "beauty"),
    ("fashion", "fashion"), ("clothing", "fashion"), ("mode", "fashion"), ("moda", "fashion"),
    ("saas", "tech"), ("software", "tech"), ("app", "tech"), ("startup", "tech"),
    ("plumb", "local_services"), ("cleaning", "local_services"), ("repair", "local_services"),
    ("course", "education"), ("tutor", "education"), ("creator", "education"),
    # A "boutique hotel" is a hotel: hospitality before the shop words.
    ("hotel", "hospitality"), ("guesthouse", "hospitality"),
    ("shop", "retail"), ("store", "retail"), ("boutique", "retail"), ("tienda", "retail"),
    ("loja", "retail"),
    ("charity", "nonprofit"), ("nonprofit", "nonprofit"), ("non-profit", "nonprofit"),
    ("ong", "nonprofit"),
)

_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*", re.UNICODE)
_ELISION = re.compile(r"^(?:[cdjlmnst]|qu)'(?=\w)")


def words(text: str) -> list[str]:
    """The casefolded words of a text (hashtags and numbers dropped)."""
    found = _WORD.findall(re.sub(r"#\w+", " ", text))
    # French elision: "d'étude" is the word "étude" ("aujourd'hui" keeps its own form).
    return [_ELISION.sub("", w.casefold()) for w in found]


@lru_cache(maxsize=512)
def niche_family(niche: str | None) -> str | None:
    """The niche family a niche description belongs to, or None when none fits."""
    if not niche:
        return None
    low = niche.casefold()
    for hint, family in NICHE_HINTS:  # the first hint wins: "coffee shop" is food, not retail
        if hint in low:
            return family
    best, best_hits = None, 0
    for family, stems in FAMILIES.items():
        hits = sum(1 for w in words(niche) if any(w.startswith(s) for s in stems))
        if hits > best_hits:
            best, best_hits = family, hits
    return best


def on_niche(text: str, family: str, extra: frozenset[str] = frozenset()) -> bool:
    """True when `text` has a word of the family's stems (or one of `extra`, whole words)."""
    stems = FAMILIES[family]
    for w in words(text):
        # Stems of three letters or fewer ("tea", "run", "ai") only match whole words.
        if w in extra or any(w == s if len(s) <= 3 else w.startswith(s) for s in stems):
            return True
    return False
