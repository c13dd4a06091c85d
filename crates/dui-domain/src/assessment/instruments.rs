//! Needs-assessment instruments as data: their items, the answers each item allows with their
//! points, and how the answers are scored. A form can be drawn from an [`Instrument`], and
//! [`Instrument::evaluate`] checks a set of answers and computes its [`Outcome`].
//!
//! The registry ([`instruments`], [`instrument`]) holds the published instruments the DUI offers.
//! An instrument's content never changes under the same version: a revised item list or cut-off is
//! a new version, so a stored evaluation is always re-read with the instrument it was made with.
//!
//! Pain self-reported on a 0–10 scale (EVA, the visual analogue scale, or EN, the numeric scale)
//! is not an instrument here: it is one figure, recorded as a measurement of kind `pain`
//! ([`crate::measurement::MeasurementKind::Pain`], flagged from 4). The observation scales for
//! people who cannot report their pain (Algoplus, Doloplus-2) are instruments.

use std::fmt;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use super::aggir::{AggirEvaluation, GirResult, VariableCodes};
use crate::validation::ValidationErrors;

/// A number of points, kept in half points: the MNA scores some answers 0.5, and integers keep
/// the sums exact. Serialised as a JSON number of points (`23.5`, `24`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = f64))]
pub struct Points(i32);

impl Points {
    /// No points.
    pub const ZERO: Self = Self(0);

    /// Whole points.
    pub const fn whole(points: i32) -> Self {
        Self(points.saturating_mul(2))
    }

    /// A number of half points: `from_halves(47)` is 23.5 points.
    pub const fn from_halves(halves: i32) -> Self {
        Self(halves)
    }

    /// The number of half points.
    pub const fn halves(self) -> i32 {
        self.0
    }

    const fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        if magnitude.is_multiple_of(2) {
            write!(f, "{sign}{}", magnitude / 2)
        } else {
            write!(f, "{sign}{}.5", magnitude / 2)
        }
    }
}

impl Serialize for Points {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 % 2 == 0 {
            serializer.serialize_i32(self.0 / 2)
        } else {
            // Exact: any i32 is exactly representable, and halving only changes the exponent.
            serializer.serialize_f64(f64::from(self.0) / 2.0)
        }
    }
}

/// One answer an item allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answer {
    /// The code sent and stored (`severe_decrease`).
    pub code: &'static str,
    pub label: &'static str,
    /// What the answer adds to the score; `None` for instruments that do not add points.
    pub points: Option<Points>,
}

/// One question of an instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Item {
    /// The code sent and stored: the instrument's own numbering where it has one (`a` for the
    /// MNA's question A, `1.1.1.1` for SERAFIN-PH).
    pub code: &'static str,
    pub label: &'static str,
    pub answers: &'static [Answer],
    /// Whether an evaluation must answer it.
    pub required: bool,
}

impl Item {
    /// The answer with this code.
    pub fn answer(&self, code: &str) -> Option<&'static Answer> {
        self.answers.iter().find(|answer| answer.code == code)
    }
}

/// A range of scores and what it means. Both ends are included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Band {
    pub min: Points,
    pub max: Points,
    pub code: &'static str,
    pub label: &'static str,
}

impl Band {
    /// Whether the score falls in this band.
    pub fn contains(&self, score: Points) -> bool {
        self.min <= score && score <= self.max
    }
}

/// How an instrument's answers become an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scoring {
    /// The AGGIR grid: its own answer format ([`AggirEvaluation`]) and the GIR.
    Aggir,
    /// The points of the answers add up to a score, read against bands that cover every
    /// possible score.
    Sum { bands: &'static [Band] },
    /// No score: the outcome lists the items answered [`NEED`] or [`PRIORITY_NEED`].
    Checklist,
}

/// The answer of a checklist item that flags a need.
pub const NEED: &str = "need";
/// The answer of a checklist item that flags a priority need.
pub const PRIORITY_NEED: &str = "priority_need";

/// A needs-assessment instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Instrument {
    /// `mna`, `braden`...
    pub code: &'static str,
    /// The version of the item list and cut-offs, usually the year of the reference text.
    pub version: &'static str,
    pub name: &'static str,
    pub items: &'static [Item],
    pub scoring: Scoring,
}

/// The answers of an evaluation, as given: serialised back to the input form, which
/// [`Instrument::evaluate`] reads to the same evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answers {
    /// AGGIR's `{"variables": {...}, "illustrative": {...}}`.
    Aggir(Box<AggirEvaluation>),
    /// `{"item": "answer", ...}`.
    Items(ItemAnswers),
}

/// The answer given to each item, in the instrument's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAnswers(Vec<(&'static Item, &'static Answer)>);

impl ItemAnswers {
    /// The answer given to an item, if any.
    pub fn get(&self, item: &str) -> Option<&'static Answer> {
        self.0.iter().find(|(given, _)| given.code == item).map(|&(_, answer)| answer)
    }

    /// Each answered item with its answer, in the instrument's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static Item, &'static Answer)> + '_ {
        self.0.iter().copied()
    }

    fn score(&self) -> Points {
        self.0.iter().filter_map(|(_, answer)| answer.points).fold(Points::ZERO, Points::saturating_add)
    }
}

impl Serialize for ItemAnswers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (item, answer) in &self.0 {
            map.serialize_entry(item.code, answer.code)?;
        }
        map.end()
    }
}

/// What an evaluation comes to. Only the fields of the instrument's kind of scoring are set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcome {
    /// The total of the points ([`Scoring::Sum`]).
    pub score: Option<Points>,
    /// The band the score falls in ([`Scoring::Sum`]).
    pub band: Option<Band>,
    /// The GIR ([`Scoring::Aggir`]).
    pub gir: Option<GirResult>,
    /// The code each discriminant variable comes to ([`Scoring::Aggir`]).
    pub variable_codes: Option<VariableCodes>,
    /// Every item with a need, priority or not, in the instrument's order ([`Scoring::Checklist`]).
    pub needs: Vec<&'static str>,
    /// The items whose need is a priority ([`Scoring::Checklist`]).
    pub priority_needs: Vec<&'static str>,
}

/// A checked set of answers to one version of an instrument, and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evaluation {
    pub instrument: &'static str,
    pub version: &'static str,
    /// The answers as given: for AGGIR `{"variables": {...}, "illustrative": {...}}`, otherwise
    /// `{"item": "answer", ...}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub answers: Answers,
    pub outcome: Outcome,
}

impl Instrument {
    /// The item with this code.
    pub fn item(&self, code: &str) -> Option<&'static Item> {
        self.items.iter().find(|item| item.code == code)
    }

    /// The band a score falls in, for an instrument that adds points.
    pub fn band(&self, score: Points) -> Option<&'static Band> {
        match self.scoring {
            Scoring::Sum { bands } => bands.iter().find(|band| band.contains(score)),
            Scoring::Aggir | Scoring::Checklist => None,
        }
    }

    /// The lowest and highest possible scores, for an instrument that adds points.
    pub fn score_range(&self) -> Option<(Points, Points)> {
        let Scoring::Sum { .. } = self.scoring else { return None };
        let (mut low, mut high) = (Points::ZERO, Points::ZERO);
        for item in self.items {
            let points = || item.answers.iter().filter_map(|answer| answer.points);
            low = low.saturating_add(points().min().unwrap_or(Points::ZERO));
            high = high.saturating_add(points().max().unwrap_or(Points::ZERO));
        }
        Some((low, high))
    }

    /// Checks a set of answers and computes its outcome. AGGIR takes
    /// `{"variables": {...}, "illustrative": {...}}` (see [`AggirEvaluation::parse`]); the other
    /// instruments `{"item": "answer", ...}`. Every problem is reported, naming its field
    /// `answers.<item>`.
    pub fn evaluate(&self, answers: &Value) -> Result<Evaluation, ValidationErrors> {
        let (answers, outcome) = match self.scoring {
            Scoring::Aggir => {
                let evaluation = AggirEvaluation::parse_at(answers, Some("answers"))?;
                let outcome = Outcome {
                    gir: Some(evaluation.gir()),
                    variable_codes: Some(*evaluation.codes()),
                    ..Outcome::default()
                };
                (Answers::Aggir(Box::new(evaluation)), outcome)
            }
            Scoring::Sum { bands } => {
                let given = self.parse_items(answers)?;
                let score = given.score();
                let band = bands.iter().find(|band| band.contains(score)).copied();
                (Answers::Items(given), Outcome { score: Some(score), band, ..Outcome::default() })
            }
            Scoring::Checklist => {
                let given = self.parse_items(answers)?;
                let flagged = |codes: &[&str]| {
                    given.iter().filter(|(_, answer)| codes.contains(&answer.code)).map(|(item, _)| item.code).collect()
                };
                let outcome = Outcome {
                    needs: flagged(&[NEED, PRIORITY_NEED]),
                    priority_needs: flagged(&[PRIORITY_NEED]),
                    ..Outcome::default()
                };
                (Answers::Items(given), outcome)
            }
        };
        Ok(Evaluation { instrument: self.code, version: self.version, answers, outcome })
    }

    fn parse_items(&self, answers: &Value) -> Result<ItemAnswers, ValidationErrors> {
        let Some(given) = answers.as_object() else {
            return Err(ValidationErrors::single("answers", "must be an object"));
        };
        let mut errors = ValidationErrors::new();
        let mut parsed = Vec::with_capacity(self.items.len());
        for item in self.items {
            let field = format!("answers.{}", item.code);
            match given.get(item.code) {
                None if item.required => errors.add(field, "is missing"),
                None => {}
                Some(value) => match value.as_str().and_then(|code| item.answer(code)) {
                    Some(answer) => parsed.push((item, answer)),
                    None => {
                        let allowed: Vec<&str> = item.answers.iter().map(|answer| answer.code).collect();
                        errors.add(field, format!("must be one of: {}", allowed.join(", ")));
                    }
                },
            }
        }
        for key in given.keys().filter(|key| self.item(key).is_none()) {
            errors.add(format!("answers.{key}"), format!("is not an item of {}", self.code));
        }
        errors.into_result(|| ItemAnswers(parsed))
    }
}

/// Every instrument, each code's versions listed oldest first.
pub fn instruments() -> &'static [Instrument] {
    &INSTRUMENTS
}

/// An instrument by code and version; the latest version when none is given.
pub fn instrument(code: &str, version: Option<&str>) -> Option<&'static Instrument> {
    find(&INSTRUMENTS, code, version)
}

fn find<'a>(table: &'a [Instrument], code: &str, version: Option<&str>) -> Option<&'a Instrument> {
    let mut versions = table.iter().filter(|instrument| instrument.code == code);
    match version {
        Some(version) => versions.find(|instrument| instrument.version == version),
        // Versions are listed oldest first.
        None => versions.next_back(),
    }
}

static INSTRUMENTS: [Instrument; 9] =
    [AGGIR, MNA, MNA_SF, BRADEN, ALGOPLUS, SERAFIN_PH_BESOINS, TINETTI, DOLOPLUS_2, NORTON];

const fn answer(code: &'static str, label: &'static str, points: i32) -> Answer {
    Answer { code, label, points: Some(Points::whole(points)) }
}

const fn half_points(code: &'static str, label: &'static str, halves: i32) -> Answer {
    Answer { code, label, points: Some(Points::from_halves(halves)) }
}

const fn unscored(code: &'static str, label: &'static str) -> Answer {
    Answer { code, label, points: None }
}

const fn item(code: &'static str, label: &'static str, answers: &'static [Answer]) -> Item {
    Item { code, label, answers, required: true }
}

const fn band(min: Points, max: Points, code: &'static str, label: &'static str) -> Band {
    Band { min, max, code, label }
}

// AGGIR (CASF annexe 2-2). The items describe the grid for a form; the answers themselves are
// read by `AggirEvaluation`, which also takes adverbs and sub-variables.

const AGGIR_CODES: &[Answer] = &[
    unscored("A", "Fait seul, totalement, habituellement et correctement"),
    unscored("B", "Fait partiellement, ou non habituellement, ou non correctement"),
    unscored("C", "Ne fait pas"),
];

const fn illustrative(code: &'static str, label: &'static str) -> Item {
    Item { code, label, answers: AGGIR_CODES, required: false }
}

const AGGIR: Instrument = Instrument {
    code: "aggir",
    version: "2008",
    name: "Grille AGGIR (CASF, annexe 2-2)",
    items: &[
        item("coherence", "Cohérence", AGGIR_CODES),
        item("orientation", "Orientation", AGGIR_CODES),
        item("toilette", "Toilette", AGGIR_CODES),
        item("habillage", "Habillage", AGGIR_CODES),
        item("alimentation", "Alimentation", AGGIR_CODES),
        item("elimination", "Élimination", AGGIR_CODES),
        item("transferts", "Transferts", AGGIR_CODES),
        item("deplacement_interieur", "Déplacement à l'intérieur", AGGIR_CODES),
        item("deplacement_exterieur", "Déplacement à l'extérieur", AGGIR_CODES),
        item("alerter", "Alerter", AGGIR_CODES),
        illustrative("gestion", "Gestion"),
        illustrative("cuisine", "Cuisine"),
        illustrative("menage", "Ménage"),
        illustrative("transports", "Transports"),
        illustrative("achats", "Achats"),
        illustrative("suivi_traitement", "Suivi du traitement"),
        illustrative("activites_temps_libre", "Activités de temps libre"),
    ],
    scoring: Scoring::Aggir,
};

// Mini Nutritional Assessment (Nestlé, revision 2009), French wording. Questions A to F are the
// screening, and with F given as the BMI or the calf circumference, the short form (MNA-SF).
// The full form adds G to R. Points are kept in halves (see `Points`): K, M, P and Q score 0.5.

const MNA_A: Item = item(
    "a",
    "Le patient présente-t-il une perte d'appétit ? A-t-il mangé moins ces 3 derniers mois par manque \
     d'appétit, problèmes digestifs, difficultés de mastication ou de déglutition ?",
    &[
        answer("severe_decrease", "Baisse sévère des prises alimentaires", 0),
        answer("moderate_decrease", "Légère baisse des prises alimentaires", 1),
        answer("no_decrease", "Pas de baisse des prises alimentaires", 2),
    ],
);
const MNA_B: Item = item(
    "b",
    "Perte récente de poids (< 3 mois)",
    &[
        answer("loss_over_3kg", "Perte de poids > 3 kg", 0),
        answer("does_not_know", "Ne sait pas", 1),
        answer("loss_1_to_3kg", "Perte de poids entre 1 et 3 kg", 2),
        answer("no_loss", "Pas de perte de poids", 3),
    ],
);
const MNA_C: Item = item(
    "c",
    "Motricité",
    &[
        answer("bed_or_chair_bound", "Du lit au fauteuil", 0),
        answer("indoors_only", "Autonome à l'intérieur", 1),
        answer("goes_out", "Sort du domicile", 2),
    ],
);
const MNA_D: Item = item(
    "d",
    "Maladie aiguë ou stress psychologique au cours des 3 derniers mois ?",
    &[answer("yes", "Oui", 0), answer("no", "Non", 2)],
);
const MNA_E: Item = item(
    "e",
    "Problèmes neuropsychologiques",
    &[
        answer("severe_dementia_or_depression", "Démence ou dépression sévère", 0),
        answer("mild_dementia", "Démence légère", 1),
        answer("none", "Pas de problème psychologique", 2),
    ],
);
const BMI_ANSWERS: [Answer; 4] = [
    answer("bmi_under_19", "IMC < 19", 0),
    answer("bmi_19_to_21", "19 ≤ IMC < 21", 1),
    answer("bmi_21_to_23", "21 ≤ IMC < 23", 2),
    answer("bmi_23_or_more", "IMC ≥ 23", 3),
];
const MNA_F: Item = item("f", "Indice de masse corporelle (IMC = poids / taille², en kg/m²)", &BMI_ANSWERS);
/// The short form's F: the BMI or, when it cannot be measured, the calf circumference (F2).
const MNA_SF_F: Item = item(
    "f",
    "Indice de masse corporelle (IMC = poids / taille², en kg/m²) ou, à défaut, circonférence du mollet (CM)",
    &[
        BMI_ANSWERS[0],
        BMI_ANSWERS[1],
        BMI_ANSWERS[2],
        BMI_ANSWERS[3],
        answer("calf_under_31", "CM < 31 cm", 0),
        answer("calf_31_or_more", "CM ≥ 31 cm", 3),
    ],
);

const MNA: Instrument = Instrument {
    code: "mna",
    version: "2009",
    name: "Mini Nutritional Assessment (MNA), forme complète",
    items: &[
        MNA_A,
        MNA_B,
        MNA_C,
        MNA_D,
        MNA_E,
        MNA_F,
        item(
            "g",
            "Le patient vit-il de façon indépendante à domicile ?",
            &[answer("yes", "Oui", 1), answer("no", "Non", 0)],
        ),
        item("h", "Prend plus de 3 médicaments par jour ?", &[answer("yes", "Oui", 0), answer("no", "Non", 1)]),
        item("i", "Escarres ou plaies cutanées ?", &[answer("yes", "Oui", 0), answer("no", "Non", 1)]),
        item(
            "j",
            "Combien de véritables repas le patient prend-il par jour ?",
            &[answer("one_meal", "1 repas", 0), answer("two_meals", "2 repas", 1), answer("three_meals", "3 repas", 2)],
        ),
        // Three yes/no questions scored together, so the item takes how many were answered yes.
        item(
            "k",
            "Consomme-t-il : une fois par jour au moins des produits laitiers ? une ou deux fois par semaine des \
             œufs ou des légumineuses ? chaque jour de la viande, du poisson ou de la volaille ?",
            &[
                half_points("none_or_one_yes", "0 ou 1 oui", 0),
                half_points("two_yes", "2 oui", 1),
                half_points("three_yes", "3 oui", 2),
            ],
        ),
        item(
            "l",
            "Consomme-t-il au moins deux fois par jour des fruits ou des légumes ?",
            &[answer("no", "Non", 0), answer("yes", "Oui", 1)],
        ),
        item(
            "m",
            "Combien de verres de boissons consomme-t-il par jour ? (eau, jus, café, thé, lait...)",
            &[
                half_points("under_3_glasses", "Moins de 3 verres", 0),
                half_points("3_to_5_glasses", "De 3 à 5 verres", 1),
                half_points("over_5_glasses", "Plus de 5 verres", 2),
            ],
        ),
        item(
            "n",
            "Manière de se nourrir",
            &[
                answer("needs_assistance", "Nécessite une assistance", 0),
                answer("with_difficulty", "Se nourrit seul avec difficulté", 1),
                answer("without_difficulty", "Se nourrit seul sans difficulté", 2),
            ],
        ),
        item(
            "o",
            "Le patient se considère-t-il bien nourri ?",
            &[
                answer("malnourished", "Se considère comme dénutri", 0),
                answer("uncertain", "N'est pas certain de son état nutritionnel", 1),
                answer("no_problem", "Se considère comme n'ayant pas de problème de nutrition", 2),
            ],
        ),
        item(
            "p",
            "Le patient se sent-il en meilleure ou moins bonne santé que la plupart des personnes de son âge ?",
            &[
                half_points("not_as_good", "Moins bonne", 0),
                half_points("does_not_know", "Ne sait pas", 1),
                half_points("as_good", "Aussi bonne", 2),
                half_points("better", "Meilleure", 4),
            ],
        ),
        item(
            "q",
            "Circonférence brachiale (CB, en cm)",
            &[
                half_points("under_21", "CB < 21", 0),
                half_points("21_to_22", "21 ≤ CB ≤ 22", 1),
                half_points("over_22", "CB > 22", 2),
            ],
        ),
        item(
            "r",
            "Circonférence du mollet (CM, en cm)",
            &[answer("under_31", "CM < 31", 0), answer("31_or_more", "CM ≥ 31", 1)],
        ),
    ],
    scoring: Scoring::Sum {
        bands: &[
            band(Points::ZERO, Points::from_halves(33), "malnourished", "Mauvais état nutritionnel (< 17)"),
            band(Points::whole(17), Points::from_halves(47), "at_risk", "Risque de malnutrition (17 à 23,5)"),
            band(Points::whole(24), Points::whole(30), "normal", "État nutritionnel normal (24 à 30)"),
        ],
    },
};

const MNA_SF: Instrument = Instrument {
    code: "mna-sf",
    version: "2009",
    name: "Mini Nutritional Assessment, forme courte (MNA-SF)",
    items: &[MNA_A, MNA_B, MNA_C, MNA_D, MNA_E, MNA_SF_F],
    scoring: Scoring::Sum {
        bands: &[
            band(Points::ZERO, Points::whole(7), "malnourished", "Dénutrition avérée (0 à 7)"),
            band(Points::whole(8), Points::whole(11), "at_risk", "Risque de dénutrition (8 à 11)"),
            band(Points::whole(12), Points::whole(14), "normal", "État nutritionnel normal (12 à 14)"),
        ],
    },
};

// Braden scale (Bergstrom and Braden, 1987-1988), in its usual French wording.
// The bands are the five levels most French protocols use; some use fewer (≤ 12 high risk).

const BRADEN: Instrument = Instrument {
    code: "braden",
    version: "1988",
    name: "Échelle de Braden (risque d'escarre)",
    items: &[
        item(
            "sensory_perception",
            "Perception sensorielle : capacité à répondre de manière adaptée à l'inconfort provoqué par la pression",
            &[
                answer("completely_limited", "Complètement limitée", 1),
                answer("very_limited", "Très limitée", 2),
                answer("slightly_limited", "Légèrement limitée", 3),
                answer("no_impairment", "Aucune atteinte", 4),
            ],
        ),
        item(
            "moisture",
            "Humidité : degré d'humidité auquel la peau est exposée",
            &[
                answer("constantly_moist", "Constamment humide", 1),
                answer("very_moist", "Très humide", 2),
                answer("occasionally_moist", "Parfois humide", 3),
                answer("rarely_moist", "Rarement humide", 4),
            ],
        ),
        item(
            "activity",
            "Activité : degré d'activité physique",
            &[
                answer("bedfast", "Alité", 1),
                answer("chairfast", "Confiné au fauteuil", 2),
                answer("walks_occasionally", "Marche occasionnellement", 3),
                answer("walks_frequently", "Marche fréquemment", 4),
            ],
        ),
        item(
            "mobility",
            "Mobilité : capacité à changer et à contrôler la position du corps",
            &[
                answer("completely_immobile", "Complètement immobile", 1),
                answer("very_limited", "Très limitée", 2),
                answer("slightly_limited", "Légèrement limitée", 3),
                answer("no_limitation", "Aucune limitation", 4),
            ],
        ),
        item(
            "nutrition",
            "Nutrition : profil alimentaire habituel",
            &[
                answer("very_poor", "Très pauvre", 1),
                answer("probably_inadequate", "Probablement inadéquate", 2),
                answer("adequate", "Adéquate", 3),
                answer("excellent", "Excellente", 4),
            ],
        ),
        item(
            "friction_shear",
            "Friction et cisaillement",
            &[
                answer("problem", "Problème", 1),
                answer("potential_problem", "Problème potentiel", 2),
                answer("no_apparent_problem", "Pas de problème apparent", 3),
            ],
        ),
    ],
    scoring: Scoring::Sum {
        bands: &[
            band(Points::whole(6), Points::whole(9), "very_high", "Risque très élevé (≤ 9)"),
            band(Points::whole(10), Points::whole(12), "high", "Risque élevé (10 à 12)"),
            band(Points::whole(13), Points::whole(14), "moderate", "Risque modéré (13 à 14)"),
            band(Points::whole(15), Points::whole(18), "mild", "Risque faible (15 à 18)"),
            band(Points::whole(19), Points::whole(23), "none", "Pas de risque (≥ 19)"),
        ],
    },
};

// Algoplus (Rat, Jouve, Pickering et al., 2011): acute pain in older people who cannot report it.
// One point per domain in which at least one of the listed behaviours is seen.

const YES_NO: &[Answer] = &[answer("no", "Non", 0), answer("yes", "Oui", 1)];

const ALGOPLUS: Instrument = Instrument {
    code: "algoplus",
    version: "2011",
    name: "Échelle Algoplus (douleur aiguë de la personne âgée)",
    items: &[
        item(
            "visage",
            "Visage : froncement des sourcils, grimaces, crispation, mâchoires serrées, visage figé",
            YES_NO,
        ),
        item("regard", "Regard : regard inattentif, fixe, lointain ou suppliant, pleurs, yeux fermés", YES_NO),
        item("plaintes", "Plaintes : « Aïe », « Ouille », « J'ai mal », gémissements, cris", YES_NO),
        item("corps", "Corps : retrait ou protection d'une zone, refus de mobilisation, attitudes figées", YES_NO),
        item("comportements", "Comportements : agitation ou agressivité, agrippement", YES_NO),
    ],
    scoring: Scoring::Sum {
        bands: &[
            // Below 2 the scale does not establish pain; it does not rule it out either.
            band(Points::ZERO, Points::whole(1), "pain_not_established", "Douleur non établie (< 2)"),
            band(Points::whole(2), Points::whole(5), "pain", "Douleur présente (≥ 2) : traiter et réévaluer"),
        ],
    },
};

// Tinetti's Performance-Oriented Mobility Assessment (POMA), balance and gait (Tinetti ME,
// "Performance-oriented assessment of mobility problems in elderly patients", J Am Geriatr Soc
// 1986;34:119-126), in French wording: 16 observations, some split into the parts scored apart
// (turning: steps and steadiness; step length and height: each foot passing, each foot
// clearing), so that every item is one score. Balance counts 16 points, gait 12: 28 in all,
// higher being safer. The bands are those clinical references give for the total (< 19 high
// risk of falling, 19 to 23 moderate, 24 and above low); the paper itself ranks risk rather than
// setting cut-offs, so a protocol with other cut-offs is another version of the instrument.
// The Timed Up and Go is not an item list (a time measured): it is left to measurements.

const TINETTI: Instrument = Instrument {
    code: "tinetti",
    version: "1986",
    name: "Test de Tinetti (POMA) : équilibre et marche, risque de chute",
    items: &[
        // Équilibre (16 points), la personne assise sur une chaise sans accoudoirs.
        item(
            "equilibre_assis",
            "Équilibre assis",
            &[answer("penche_glisse", "S'incline ou glisse sur la chaise", 0), answer("stable", "Stable, sûr", 1)],
        ),
        item(
            "se_lever",
            "Se lever",
            &[
                answer("incapable_sans_aide", "Incapable sans aide", 0),
                answer("avec_bras", "Capable, mais utilise les bras", 1),
                answer("sans_bras", "Capable sans utiliser les bras", 2),
            ],
        ),
        item(
            "essais_pour_se_lever",
            "Essais pour se lever",
            &[
                answer("incapable_sans_aide", "Incapable sans aide", 0),
                answer("plusieurs_essais", "Capable, mais plus d'un essai", 1),
                answer("un_essai", "Capable en un seul essai", 2),
            ],
        ),
        item(
            "equilibre_debout_immediat",
            "Équilibre debout immédiat (5 premières secondes)",
            &[
                answer("instable", "Instable (titube, bouge les pieds, oscillations du tronc)", 0),
                answer("stable_avec_appui", "Stable avec déambulateur, canne ou autre appui", 1),
                answer("stable_sans_appui", "Stable sans aucun appui", 2),
            ],
        ),
        item(
            "equilibre_debout",
            "Équilibre debout",
            &[
                answer("instable", "Instable", 0),
                answer("stable_base_large", "Stable, mais pieds écartés (plus de 10 cm) ou avec un appui", 1),
                answer("stable_base_etroite", "Pieds rapprochés, sans appui", 2),
            ],
        ),
        item(
            "poussee",
            "Poussée (pieds rapprochés, l'examinateur pousse trois fois légèrement sur le sternum)",
            &[
                answer("commence_a_tomber", "Commence à tomber", 0),
                answer("chancelle", "Chancelle, s'agrippe, mais se rattrape", 1),
                answer("stable", "Stable", 2),
            ],
        ),
        item(
            "yeux_fermes",
            "Yeux fermés (même position)",
            &[answer("instable", "Instable", 0), answer("stable", "Stable", 1)],
        ),
        item(
            "tour_complet_pas",
            "Tour complet (360°) : les pas",
            &[answer("discontinus", "Pas discontinus", 0), answer("continus", "Pas continus", 1)],
        ),
        item(
            "tour_complet_stabilite",
            "Tour complet (360°) : la stabilité",
            &[answer("instable", "Instable (s'agrippe, titube)", 0), answer("stable", "Stable", 1)],
        ),
        item(
            "s_asseoir",
            "S'asseoir",
            &[
                answer("dangereux", "Dangereux (distance mal évaluée, se laisse tomber)", 0),
                answer("avec_bras", "Utilise les bras, ou mouvement peu régulier", 1),
                answer("sur", "Sûr, mouvement régulier", 2),
            ],
        ),
        // Marche (12 points), sur quelques mètres à vitesse habituelle, puis rapide et sûre.
        item(
            "initiation_marche",
            "Initiation de la marche (immédiatement après l'ordre de marcher)",
            &[
                answer("hesitation", "Hésitation ou plusieurs essais pour partir", 0),
                answer("sans_hesitation", "Sans hésitation", 1),
            ],
        ),
        item(
            "pied_droit_depasse",
            "Longueur du pas : le pied droit dépasse le pied gauche en appui",
            &[answer("non", "Non", 0), answer("oui", "Oui", 1)],
        ),
        item(
            "pied_droit_decolle",
            "Hauteur du pas : le pied droit décolle complètement du sol",
            &[answer("non", "Non", 0), answer("oui", "Oui", 1)],
        ),
        item(
            "pied_gauche_depasse",
            "Longueur du pas : le pied gauche dépasse le pied droit en appui",
            &[answer("non", "Non", 0), answer("oui", "Oui", 1)],
        ),
        item(
            "pied_gauche_decolle",
            "Hauteur du pas : le pied gauche décolle complètement du sol",
            &[answer("non", "Non", 0), answer("oui", "Oui", 1)],
        ),
        item(
            "symetrie_pas",
            "Symétrie des pas",
            &[
                answer("inegaux", "Longueurs des pas droit et gauche inégales", 0),
                answer("egaux", "Longueurs des pas droit et gauche semblables", 1),
            ],
        ),
        item(
            "continuite_pas",
            "Continuité des pas",
            &[answer("discontinus", "Arrêts ou discontinuité entre les pas", 0), answer("continus", "Pas continus", 1)],
        ),
        item(
            "trajectoire",
            "Trajectoire (sur environ 3 mètres)",
            &[
                answer("deviation_marquee", "Déviation marquée", 0),
                answer("deviation_legere", "Déviation légère ou modérée, ou utilise une aide à la marche", 1),
                answer("rectiligne", "Marche droit sans aide", 2),
            ],
        ),
        item(
            "tronc",
            "Tronc",
            &[
                answer("balancement_marque", "Balancement marqué ou utilise une aide à la marche", 0),
                answer("flexion", "Sans balancement, mais fléchit genoux ou dos, ou écarte les bras", 1),
                answer("stable", "Sans balancement, sans flexion, sans les bras ni aide", 2),
            ],
        ),
        item(
            "attitude_marche",
            "Attitude pendant la marche",
            &[
                answer("talons_eloignes", "Talons éloignés", 0),
                answer("talons_se_touchent", "Talons se touchant presque pendant la marche", 1),
            ],
        ),
    ],
    scoring: Scoring::Sum {
        bands: &[
            band(Points::ZERO, Points::whole(18), "high_risk", "Risque de chute élevé (< 19)"),
            band(Points::whole(19), Points::whole(23), "moderate_risk", "Risque de chute modéré (19 à 23)"),
            band(Points::whole(24), Points::whole(28), "low_risk", "Risque de chute faible (≥ 24)"),
        ],
    },
};

// Doloplus-2 (Collectif Doloplus; Lefebvre-Chapiro S., "The Doloplus 2 scale - evaluating pain
// in the elderly", European Journal of Palliative Care 2001;8(5):191-194): the pain of a person
// who cannot say it, observed by the team. Ten items in three groups (somatic, psychomotor,
// psychosocial), each scored 0 to 3: 30 in all; 5 or more establishes pain.

/// An item's four answers, scored 0 to 3 in order.
const fn graded(answers: [(&'static str, &'static str); 4]) -> [Answer; 4] {
    [
        answer(answers[0].0, answers[0].1, 0),
        answer(answers[1].0, answers[1].1, 1),
        answer(answers[2].0, answers[2].1, 2),
        answer(answers[3].0, answers[3].1, 3),
    ]
}

const DOLOPLUS_PLAINTES: [Answer; 4] = graded([
    ("pas_de_plainte", "Pas de plainte"),
    ("a_la_sollicitation", "Plaintes uniquement à la sollicitation"),
    ("spontanees_occasionnelles", "Plaintes spontanées occasionnelles"),
    ("spontanees_continues", "Plaintes spontanées continues"),
]);
const DOLOPLUS_POSITIONS: [Answer; 4] = graded([
    ("aucune", "Pas de position antalgique"),
    ("evite_occasionnellement", "Le sujet évite certaines positions de façon occasionnelle"),
    ("permanente_efficace", "Position antalgique permanente et efficace"),
    ("permanente_inefficace", "Position antalgique permanente inefficace"),
]);
const DOLOPLUS_PROTECTION: [Answer; 4] = graded([
    ("aucune", "Pas de protection"),
    ("a_la_sollicitation", "Protection à la sollicitation n'empêchant pas la poursuite de l'examen ou des soins"),
    ("empeche_les_soins", "Protection à la sollicitation empêchant tout examen ou soin"),
    ("au_repos", "Protection au repos, en l'absence de toute sollicitation"),
]);
const DOLOPLUS_MIMIQUE: [Answer; 4] = graded([
    ("habituelle", "Mimique habituelle"),
    ("douleur_a_la_sollicitation", "Mimique semblant exprimer la douleur à la sollicitation"),
    ("douleur_sans_sollicitation", "Mimique semblant exprimer la douleur en l'absence de toute sollicitation"),
    ("inexpressive", "Regard inexpressif, atone, figé"),
]);
const DOLOPLUS_SOMMEIL: [Answer; 4] = graded([
    ("habituel", "Sommeil habituel"),
    ("endormissement_difficile", "Difficultés d'endormissement"),
    ("reveils_frequents", "Réveils fréquents (agitation motrice)"),
    ("insomnie", "Insomnie avec retentissement sur les phases d'éveil"),
]);
const DOLOPLUS_TOILETTE: [Answer; 4] = graded([
    ("inchangee", "Possibilités habituelles inchangées"),
    ("peu_diminuee", "Possibilités habituelles peu diminuées (précautionneux mais complet)"),
    ("tres_diminuee", "Possibilités habituelles très diminuées, toilette et habillage difficiles et partiels"),
    ("impossible", "Toilette et habillage impossibles, le malade exprimant son opposition à toute tentative"),
]);
const DOLOPLUS_MOUVEMENTS: [Answer; 4] = graded([
    ("inchanges", "Possibilités habituelles inchangées"),
    ("actifs_limites", "Possibilités actives limitées (évite certains mouvements, diminue son périmètre de marche)"),
    ("actifs_et_passifs_limites", "Possibilités actives et passives limitées (même aidé, diminue ses mouvements)"),
    ("impossibles", "Mouvement impossible, toute mobilisation entraînant une opposition"),
]);
const DOLOPLUS_COMMUNICATION: [Answer; 4] = graded([
    ("inchangee", "Inchangée"),
    ("intensifiee", "Intensifiée (la personne attire l'attention de manière inhabituelle)"),
    ("diminuee", "Diminuée (la personne s'isole)"),
    ("absente", "Absence ou refus de toute communication"),
]);
const DOLOPLUS_VIE_SOCIALE: [Answer; 4] = graded([
    ("habituelle", "Participation habituelle aux différentes activités (repas, animations, ateliers)"),
    ("a_la_sollicitation", "Participation aux activités uniquement à la sollicitation"),
    ("refus_partiel", "Refus partiel de participation aux activités"),
    ("refus_total", "Refus de toute vie sociale"),
]);
const DOLOPLUS_COMPORTEMENT: [Answer; 4] = graded([
    ("habituel", "Comportement habituel"),
    ("sollicitation_iteratif", "Troubles du comportement à la sollicitation et itératifs"),
    ("sollicitation_permanent", "Troubles du comportement à la sollicitation et permanents"),
    ("permanent", "Troubles du comportement permanents, en dehors de toute sollicitation"),
]);

const DOLOPLUS_2: Instrument = Instrument {
    code: "doloplus-2",
    version: "2001",
    name: "Échelle Doloplus-2 (douleur de la personne âgée non communicante)",
    items: &[
        // Retentissement somatique.
        item("plaintes_somatiques", "1. Plaintes somatiques", &DOLOPLUS_PLAINTES),
        item("positions_antalgiques", "2. Positions antalgiques au repos", &DOLOPLUS_POSITIONS),
        item("protection_zones", "3. Protection de zones douloureuses", &DOLOPLUS_PROTECTION),
        item("mimique", "4. Mimique", &DOLOPLUS_MIMIQUE),
        item("sommeil", "5. Sommeil", &DOLOPLUS_SOMMEIL),
        // Retentissement psychomoteur.
        item("toilette_habillage", "6. Toilette et/ou habillage", &DOLOPLUS_TOILETTE),
        item("mouvements", "7. Mouvements", &DOLOPLUS_MOUVEMENTS),
        // Retentissement psychosocial.
        item("communication", "8. Communication", &DOLOPLUS_COMMUNICATION),
        item("vie_sociale", "9. Vie sociale", &DOLOPLUS_VIE_SOCIALE),
        item("troubles_comportement", "10. Troubles du comportement", &DOLOPLUS_COMPORTEMENT),
    ],
    scoring: Scoring::Sum {
        bands: &[
            band(Points::ZERO, Points::whole(4), "pain_not_established", "Douleur non établie (< 5)"),
            band(Points::whole(5), Points::whole(30), "pain", "Douleur présente (≥ 5) : traiter et réévaluer"),
        ],
    },
};

// Norton scale (Norton D., McLaren R., Exton-Smith A.N., "An investigation of geriatric nursing
// problems in hospital", National Corporation for the Care of Old People, London, 1962): the
// risk of pressure ulcers, five items scored 4 (best) to 1, 5 to 20 in all; 14 or less is a
// risk, 12 or less a high risk.

const NORTON: Instrument = Instrument {
    code: "norton",
    version: "1962",
    name: "Échelle de Norton (risque d'escarre)",
    items: &[
        item(
            "etat_general",
            "État physique général",
            &[
                answer("tres_mauvais", "Très mauvais", 1),
                answer("mauvais", "Mauvais", 2),
                answer("moyen", "Moyen", 3),
                answer("bon", "Bon", 4),
            ],
        ),
        item(
            "etat_mental",
            "État mental",
            &[
                answer("stuporeux", "Stuporeux, inconscient", 1),
                answer("confus", "Confus", 2),
                answer("apathique", "Apathique", 3),
                answer("alerte", "Alerte", 4),
            ],
        ),
        item(
            "activite",
            "Activité",
            &[
                answer("alite", "Alité", 1),
                answer("assis_au_fauteuil", "Assis au fauteuil", 2),
                answer("marche_avec_aide", "Marche avec aide", 3),
                answer("ambulant", "Ambulant", 4),
            ],
        ),
        item(
            "mobilite",
            "Mobilité",
            &[
                answer("immobile", "Immobile", 1),
                answer("tres_limitee", "Très limitée", 2),
                answer("legerement_limitee", "Légèrement limitée", 3),
                answer("complete", "Complète", 4),
            ],
        ),
        item(
            "incontinence",
            "Incontinence",
            &[
                answer("urinaire_et_fecale", "Urinaire et fécale", 1),
                answer("urinaire", "Urinaire habituellement", 2),
                answer("occasionnelle", "Occasionnelle", 3),
                answer("aucune", "Aucune", 4),
            ],
        ),
    ],
    scoring: Scoring::Sum {
        bands: &[
            band(Points::whole(5), Points::whole(12), "high_risk", "Risque élevé (≤ 12)"),
            band(Points::whole(13), Points::whole(14), "risk", "Risque (13 à 14)"),
            band(Points::whole(15), Points::whole(20), "no_risk", "Pas de risque (≥ 15)"),
        ],
    },
};

// SERAFIN-PH, nomenclature des besoins (comité stratégique du 27 avril 2018): the detailed needs
// of its three blocks, numbered as in the nomenclature. The ANS terminology (terminologie-SERAFINPH)
// codes block 1.1's needs one level up: 1.1.1.1 there is 1.1.1, up to 1.1.1.10 → 1.1.10; blocks
// 1.2 and 1.3 keep the same numbers.

const NEEDS: &[Answer] = &[
    unscored("not_assessed", "Non évalué"),
    unscored("no_need", "Pas de besoin"),
    unscored(NEED, "Besoin"),
    unscored(PRIORITY_NEED, "Besoin prioritaire"),
];

const fn need(code: &'static str, label: &'static str) -> Item {
    item(code, label, NEEDS)
}

const SERAFIN_PH_BESOINS: Instrument = Instrument {
    code: "serafin-ph-besoins",
    version: "2018",
    name: "SERAFIN-PH, nomenclature des besoins",
    items: &[
        // 1.1 Besoins en matière de santé somatique ou psychique.
        need("1.1.1.1", "Besoins en matière de fonctions mentales, psychiques, cognitives et du système nerveux"),
        need("1.1.1.2", "Besoins en matière de fonctions sensorielles"),
        need("1.1.1.3", "Besoins en matière de douleur"),
        need("1.1.1.4", "Besoins relatifs à la voix, à la parole et à l'appareil bucco-dentaire"),
        need(
            "1.1.1.5",
            "Besoins en matière de fonctions cardio-vasculaire, hématopoïétique, immunitaire et respiratoire",
        ),
        need("1.1.1.6", "Besoins en matière de fonctions digestive, métabolique et endocrinienne"),
        need("1.1.1.7", "Besoins en matière de fonctions génito-urinaire et reproductive"),
        need("1.1.1.8", "Besoins en matière de fonctions locomotrices"),
        need("1.1.1.9", "Besoins relatifs à la peau et aux structures associées"),
        need("1.1.1.10", "Besoins pour entretenir et prendre soin de sa santé"),
        // 1.2 Besoins en matière d'autonomie.
        need("1.2.1.1", "Besoins en lien avec l'entretien personnel"),
        need("1.2.1.2", "Besoins en lien avec les relations et les interactions avec autrui"),
        need("1.2.1.3", "Besoins pour la mobilité"),
        need("1.2.1.4", "Besoins pour prendre des décisions adaptées et pour la sécurité"),
        // 1.3 Besoins pour la participation sociale.
        need("1.3.1.1", "Besoins pour accéder aux droits et à la citoyenneté"),
        need("1.3.2.1", "Besoins pour vivre dans un logement"),
        need("1.3.2.2", "Besoins pour accomplir les activités domestiques"),
        need("1.3.3.1", "Besoins en lien avec la vie scolaire et étudiante"),
        need("1.3.3.2", "Besoins en lien avec le travail et l'emploi"),
        need("1.3.3.3", "Besoins transversaux en matière d'apprentissages"),
        need("1.3.3.4", "Besoins pour la vie familiale, la parentalité, la vie affective et sexuelle"),
        need("1.3.3.5", "Besoins pour apprendre à être pair-aidant"),
        need("1.3.4.1", "Besoins pour participer à la vie sociale"),
        need("1.3.4.2", "Besoins pour se déplacer avec un moyen de transport"),
        need("1.3.5.1", "Besoins en matière de ressources et d'autosuffisance économique"),
    ],
    scoring: Scoring::Checklist,
};

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;
    use crate::assessment::aggir::Group;

    fn registered(code: &str) -> &'static Instrument {
        instrument(code, None).expect("a registered instrument")
    }

    /// Answers choosing, for every item, the answer with the fewest (or most) points.
    fn extreme_answers(instrument: &Instrument, most: bool) -> Value {
        let answers: Map<String, Value> = instrument
            .items
            .iter()
            .map(|item| {
                let points = |answer: &&Answer| answer.points.unwrap_or(Points::ZERO);
                let chosen =
                    if most { item.answers.iter().max_by_key(points) } else { item.answers.iter().min_by_key(points) };
                (item.code.to_owned(), json!(chosen.expect("an answer").code))
            })
            .collect();
        Value::Object(answers)
    }

    fn band_code(evaluation: &Evaluation) -> Option<&'static str> {
        evaluation.outcome.band.map(|band| band.code)
    }

    fn error_fields(errors: &ValidationErrors) -> Vec<(&str, &str)> {
        errors.errors().iter().map(|e| (e.field.as_str(), e.message.as_str())).collect()
    }

    #[test]
    fn points_count_halves() {
        let cases = [(Points::from_halves(47), "23.5", json!(23.5)), (Points::whole(24), "24", json!(24))];
        for (points, text, value) in cases {
            assert_eq!(points.to_string(), text);
            assert_eq!(serde_json::to_value(points).unwrap(), value);
        }
        assert_eq!(Points::from_halves(-3).to_string(), "-1.5");
        assert_eq!(Points::whole(3).halves(), 6);
        assert_eq!(Points::whole(i32::MAX).halves(), i32::MAX);
    }

    #[test]
    fn registry() {
        let codes: Vec<&str> = instruments().iter().map(|i| i.code).collect();
        assert_eq!(
            codes,
            ["aggir", "mna", "mna-sf", "braden", "algoplus", "serafin-ph-besoins", "tinetti", "doloplus-2", "norton"]
        );
        assert_eq!(registered("aggir").version, "2008");
        assert_eq!(
            instrument("mna", Some("2009")).map(|i| i.name),
            Some("Mini Nutritional Assessment (MNA), forme complète")
        );
        assert_eq!(instrument("mna", Some("1994")), None);
        assert_eq!(instrument("MNA", None), None);
        assert_eq!(instrument("katz", None), None);
        for (i, a) in instruments().iter().enumerate() {
            for b in &instruments()[i + 1..] {
                assert!((a.code, a.version) != (b.code, b.version), "{} {} twice", a.code, a.version);
            }
        }
    }

    #[test]
    fn latest_version_is_the_last_listed() {
        let table = [
            Instrument { version: "2008", ..ALGOPLUS },
            Instrument { version: "2011", ..ALGOPLUS },
            Instrument { code: "other", version: "2020", ..ALGOPLUS },
        ];
        assert_eq!(find(&table, "algoplus", None).map(|i| i.version), Some("2011"));
        assert_eq!(find(&table, "algoplus", Some("2008")).map(|i| i.version), Some("2008"));
        assert_eq!(find(&table, "algoplus", Some("2020")), None);
        assert_eq!(find(&table, "other", None).map(|i| i.version), Some("2020"));
    }

    #[test]
    fn instruments_are_well_formed() {
        for instrument in instruments() {
            let name = instrument.code;
            for (i, item) in instrument.items.iter().enumerate() {
                assert!(instrument.items[i + 1..].iter().all(|other| other.code != item.code), "{name} {}", item.code);
                assert!(!item.answers.is_empty(), "{name} {}", item.code);
                for (j, answer) in item.answers.iter().enumerate() {
                    assert!(
                        item.answers[j + 1..].iter().all(|other| other.code != answer.code),
                        "{name} {}",
                        item.code
                    );
                    let scored = matches!(instrument.scoring, Scoring::Sum { .. });
                    assert_eq!(answer.points.is_some(), scored, "{name} {} {}", item.code, answer.code);
                }
            }
            // The bands run without gap or overlap from the lowest to the highest score. The step
            // between two bands is the smallest difference between two scores: half a point when
            // some answer scores a half.
            if let Scoring::Sum { bands } = instrument.scoring {
                let halves = instrument
                    .items
                    .iter()
                    .flat_map(|item| item.answers)
                    .any(|answer| answer.points.is_some_and(|points| points.halves() % 2 != 0));
                let step = if halves { 1 } else { 2 };
                let (low, high) = instrument.score_range().expect("a range");
                assert_eq!(bands.first().map(|band| band.min), Some(low), "{name}");
                assert_eq!(bands.last().map(|band| band.max), Some(high), "{name}");
                for pair in bands.windows(2) {
                    assert!(pair[0].min <= pair[0].max, "{name} {}", pair[0].code);
                    assert_eq!(pair[1].min.halves(), pair[0].max.halves() + step, "{name} {}", pair[1].code);
                }
            } else {
                assert_eq!(instrument.score_range(), None);
            }
        }
    }

    #[test]
    fn item_counts_and_ranges() {
        let cases = [
            ("mna", 18, Some((Points::ZERO, Points::whole(30)))),
            ("mna-sf", 6, Some((Points::ZERO, Points::whole(14)))),
            ("braden", 6, Some((Points::whole(6), Points::whole(23)))),
            ("algoplus", 5, Some((Points::ZERO, Points::whole(5)))),
            ("serafin-ph-besoins", 25, None),
            ("aggir", 17, None),
            ("tinetti", 20, Some((Points::ZERO, Points::whole(28)))),
            ("doloplus-2", 10, Some((Points::ZERO, Points::whole(30)))),
            ("norton", 5, Some((Points::whole(5), Points::whole(20)))),
        ];
        for (code, items, range) in cases {
            let instrument = registered(code);
            assert_eq!(instrument.items.len(), items, "{code}");
            assert_eq!(instrument.score_range(), range, "{code}");
        }
        // MNA: screening (A–F) 14 points, assessment (G–R) 16.
        let mna = registered("mna");
        let most = |codes: &[&str]| {
            codes
                .iter()
                .filter_map(|code| mna.item(code))
                .map(|item| item.answers.iter().filter_map(|a| a.points).max().unwrap_or(Points::ZERO).halves())
                .sum::<i32>()
        };
        assert_eq!(most(&["a", "b", "c", "d", "e", "f"]), 28);
        assert_eq!(most(&["g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r"]), 32);
    }

    #[test]
    fn bounds_of_each_scored_instrument() {
        // (instrument, lowest score and its band, highest score and its band).
        let cases = [
            ("mna", 0, "malnourished", 30, "normal"),
            ("mna-sf", 0, "malnourished", 14, "normal"),
            ("braden", 6, "very_high", 23, "none"),
            ("algoplus", 0, "pain_not_established", 5, "pain"),
            ("tinetti", 0, "high_risk", 28, "low_risk"),
            ("doloplus-2", 0, "pain_not_established", 30, "pain"),
            ("norton", 5, "high_risk", 20, "no_risk"),
        ];
        for (code, low, low_band, high, high_band) in cases {
            let instrument = registered(code);
            let lowest = instrument.evaluate(&extreme_answers(instrument, false)).unwrap();
            assert_eq!(lowest.outcome.score, Some(Points::whole(low)), "{code}");
            assert_eq!(band_code(&lowest), Some(low_band), "{code}");
            let highest = instrument.evaluate(&extreme_answers(instrument, true)).unwrap();
            assert_eq!(highest.outcome.score, Some(Points::whole(high)), "{code}");
            assert_eq!(band_code(&highest), Some(high_band), "{code}");
        }
    }

    #[test]
    fn band_edges() {
        // (instrument, score in half points, band).
        let cases = [
            ("mna", 33, "malnourished"),
            ("mna", 34, "at_risk"),
            ("mna", 47, "at_risk"),
            ("mna", 48, "normal"),
            ("mna-sf", 14, "malnourished"),
            ("mna-sf", 16, "at_risk"),
            ("mna-sf", 22, "at_risk"),
            ("mna-sf", 24, "normal"),
            ("braden", 18, "very_high"),
            ("braden", 20, "high"),
            ("braden", 24, "high"),
            ("braden", 26, "moderate"),
            ("braden", 28, "moderate"),
            ("braden", 30, "mild"),
            ("braden", 36, "mild"),
            ("braden", 38, "none"),
            ("algoplus", 2, "pain_not_established"),
            ("algoplus", 4, "pain"),
            ("tinetti", 36, "high_risk"),
            ("tinetti", 38, "moderate_risk"),
            ("tinetti", 46, "moderate_risk"),
            ("tinetti", 48, "low_risk"),
            ("doloplus-2", 8, "pain_not_established"),
            ("doloplus-2", 10, "pain"),
            ("norton", 24, "high_risk"),
            ("norton", 26, "risk"),
            ("norton", 28, "risk"),
            ("norton", 30, "no_risk"),
        ];
        for (code, halves, expected) in cases {
            let band = registered(code).band(Points::from_halves(halves)).map(|band| band.code);
            assert_eq!(band, Some(expected), "{code} {}", Points::from_halves(halves));
        }
        assert_eq!(registered("braden").band(Points::whole(5)), None);
        assert_eq!(registered("aggir").band(Points::ZERO), None);
    }

    #[test]
    fn mna_edge_between_at_risk_and_normal() {
        let mna = registered("mna");
        let mut answers = extreme_answers(mna, true);
        // From 30: b does not know (−2), c indoors only (−1), e mild dementia (−1), h takes more
        // than 3 drugs (−1), k two yes (−0.5), p as good (−1): 23.5.
        let changes = [
            ("b", "does_not_know"),
            ("c", "indoors_only"),
            ("e", "mild_dementia"),
            ("h", "yes"),
            ("k", "two_yes"),
            ("p", "as_good"),
        ];
        for (item, answer) in changes {
            answers[item] = json!(answer);
        }
        let evaluation = mna.evaluate(&answers).unwrap();
        assert_eq!(evaluation.outcome.score, Some(Points::from_halves(47)));
        assert_eq!(band_code(&evaluation), Some("at_risk"));
        // Three yes in k instead of two: 24.
        answers["k"] = json!("three_yes");
        let evaluation = mna.evaluate(&answers).unwrap();
        assert_eq!(evaluation.outcome.score, Some(Points::whole(24)));
        assert_eq!(band_code(&evaluation), Some("normal"));
        assert_eq!(serde_json::to_value(&evaluation.outcome).unwrap()["score"], json!(24));
    }

    #[test]
    fn mna_sf_takes_the_calf_circumference_instead_of_the_bmi() {
        let mna_sf = registered("mna-sf");
        let mut answers = extreme_answers(mna_sf, true);
        answers["f"] = json!("calf_31_or_more");
        assert_eq!(mna_sf.evaluate(&answers).unwrap().outcome.score, Some(Points::whole(14)));
        answers["f"] = json!("calf_under_31");
        let evaluation = mna_sf.evaluate(&answers).unwrap();
        assert_eq!(evaluation.outcome.score, Some(Points::whole(11)));
        assert_eq!(band_code(&evaluation), Some("at_risk"));
    }

    #[test]
    fn algoplus_threshold() {
        let algoplus = registered("algoplus");
        let one = json!({"visage": "yes", "regard": "no", "plaintes": "no", "corps": "no", "comportements": "no"});
        let evaluation = algoplus.evaluate(&one).unwrap();
        assert_eq!(
            (evaluation.outcome.score, band_code(&evaluation)),
            (Some(Points::whole(1)), Some("pain_not_established"))
        );
        let two = json!({"visage": "yes", "regard": "no", "plaintes": "yes", "corps": "no", "comportements": "no"});
        let evaluation = algoplus.evaluate(&two).unwrap();
        assert_eq!((evaluation.outcome.score, band_code(&evaluation)), (Some(Points::whole(2)), Some("pain")));
        assert_eq!(
            serde_json::to_value(&evaluation).unwrap(),
            json!({
                "instrument": "algoplus",
                "version": "2011",
                "answers": two,
                "outcome": {
                    "score": 2,
                    "band": {"min": 2, "max": 5, "code": "pain", "label": "Douleur présente (≥ 2) : traiter et réévaluer"},
                    "gir": null,
                    "variable_codes": null,
                    "needs": [],
                    "priority_needs": []
                }
            })
        );
    }

    #[test]
    fn invalid_answers_are_named() {
        let braden = registered("braden");
        let answers = json!({
            "sensory_perception": "very_limited",
            "moisture": "wet",
            "activity": 3,
            "nutrition": "adequate",
            "friction_shear": "no_apparent_problem",
            "pain": "yes"
        });
        let errors = braden.evaluate(&answers).unwrap_err();
        assert_eq!(
            error_fields(&errors),
            vec![
                ("answers.moisture", "must be one of: constantly_moist, very_moist, occasionally_moist, rarely_moist"),
                ("answers.activity", "must be one of: bedfast, chairfast, walks_occasionally, walks_frequently"),
                ("answers.mobility", "is missing"),
                ("answers.pain", "is not an item of braden"),
            ]
        );
        for not_an_object in [json!(null), json!([]), json!("a")] {
            let errors = braden.evaluate(&not_an_object).unwrap_err();
            assert_eq!(error_fields(&errors), vec![("answers", "must be an object")]);
        }
        let errors = registered("serafin-ph-besoins").evaluate(&json!({"1.1.1.1": "need"})).unwrap_err();
        assert_eq!(errors.errors().len(), 24);
        assert_eq!(error_fields(&errors)[0], ("answers.1.1.1.2", "is missing"));
        // Answers of another item are not accepted.
        let errors = registered("mna-sf").evaluate(&json!({"a": "no_loss"})).unwrap_err();
        assert_eq!(
            error_fields(&errors)[0],
            ("answers.a", "must be one of: severe_decrease, moderate_decrease, no_decrease")
        );
    }

    #[test]
    fn serafin_lists_needs_and_priorities() {
        let serafin = registered("serafin-ph-besoins");
        let mut answers = Map::new();
        for item in serafin.items {
            answers.insert(item.code.to_owned(), json!("no_need"));
        }
        answers.insert("1.1.1.3".to_owned(), json!("need"));
        answers.insert("1.2.1.3".to_owned(), json!("priority_need"));
        answers.insert("1.3.2.2".to_owned(), json!("need"));
        answers.insert("1.3.3.2".to_owned(), json!("not_assessed"));
        let evaluation = serafin.evaluate(&Value::Object(answers)).unwrap();
        assert_eq!(evaluation.outcome.needs, ["1.1.1.3", "1.2.1.3", "1.3.2.2"]);
        assert_eq!(evaluation.outcome.priority_needs, ["1.2.1.3"]);
        assert_eq!((evaluation.outcome.score, evaluation.outcome.band), (None, None));
        let Answers::Items(given) = &evaluation.answers else { panic!("item answers") };
        assert_eq!(given.get("1.3.3.2").map(|a| a.code), Some("not_assessed"));
        assert_eq!(given.iter().count(), 25);
        // Every need sits in one of the three blocks.
        for item in serafin.items {
            assert!(["1.1.1.", "1.2.1.", "1.3."].iter().any(|block| item.code.starts_with(block)), "{}", item.code);
        }
    }

    #[test]
    fn aggir_through_the_framework() {
        let aggir = registered("aggir");
        let answers = json!({"variables": {
            "coherence": "C", "orientation": "C", "toilette": "B", "habillage": "B", "alimentation": "B",
            "elimination": "B", "transferts": "B", "deplacement_interieur": "B", "deplacement_exterieur": "B",
            "alerter": "B"
        }, "illustrative": {"gestion": "C"}});
        let evaluation = aggir.evaluate(&answers).unwrap();
        assert_eq!(evaluation.outcome.gir, Some(GirResult { gir: 2, group: Group::A, rank: 3 }));
        assert_eq!(evaluation.outcome.variable_codes.map(|codes| codes.coherence), Some(super::super::aggir::Code::C));
        assert_eq!(evaluation.outcome.score, None);
        let errors = aggir.evaluate(&json!({"variables": {"coherence": "A"}})).unwrap_err();
        assert_eq!(error_fields(&errors)[0], ("answers.variables.orientation", "is missing"));
        assert_eq!(error_fields(&aggir.evaluate(&json!(1)).unwrap_err()), vec![("answers", "must be an object")]);
    }

    #[test]
    fn stored_answers_evaluate_to_the_same_evaluation() {
        for instrument in instruments() {
            let answers = if matches!(instrument.scoring, Scoring::Aggir) {
                json!({"variables": {
                    "coherence": {"communication": "A", "comportement": "B"}, "orientation": "A",
                    "toilette": {"haut": "A", "bas": "C"}, "habillage": "B", "alimentation": "A", "elimination": "A",
                    "transferts": {"spontaneously": true, "totally": false, "correctly": true, "habitually": true},
                    "deplacement_interieur": "A", "deplacement_exterieur": "C", "alerter": "A"
                }})
            } else {
                extreme_answers(instrument, true)
            };
            let evaluation = instrument.evaluate(&answers).unwrap();
            let stored = serde_json::to_value(&evaluation.answers).unwrap();
            assert_eq!(stored, answers, "{}", instrument.code);
            assert_eq!(instrument.evaluate(&stored).unwrap(), evaluation, "{}", instrument.code);
        }
    }

    /// Answers giving `points` to the first items in order (each as high as it goes, the rest
    /// at their lowest), for scoring the band edges from real answers.
    fn answers_scoring(instrument: &Instrument, points: i32) -> Value {
        let mut left = Points::whole(points).halves() - instrument.score_range().unwrap().0.halves();
        let answers: Map<String, Value> = instrument
            .items
            .iter()
            .map(|item| {
                let mut by_points: Vec<&Answer> = item.answers.iter().collect();
                by_points.sort_by_key(|a| a.points);
                let lowest = by_points[0].points.unwrap().halves();
                let chosen =
                    by_points.iter().rev().find(|a| a.points.unwrap().halves() - lowest <= left).expect("an answer");
                left -= chosen.points.unwrap().halves() - lowest;
                (item.code.to_owned(), json!(chosen.code))
            })
            .collect();
        assert_eq!(left, 0, "{} cannot score {points}", instrument.code);
        Value::Object(answers)
    }

    #[test]
    fn fall_risk_pain_and_pressure_scales_change_band_at_their_cut_offs() {
        // (instrument, score, band): each side of each cut-off, scored from answers.
        let cases = [
            ("tinetti", 0, "high_risk"),
            ("tinetti", 18, "high_risk"),
            ("tinetti", 19, "moderate_risk"),
            ("tinetti", 23, "moderate_risk"),
            ("tinetti", 24, "low_risk"),
            ("tinetti", 28, "low_risk"),
            ("doloplus-2", 0, "pain_not_established"),
            ("doloplus-2", 4, "pain_not_established"),
            ("doloplus-2", 5, "pain"),
            ("doloplus-2", 30, "pain"),
            ("norton", 5, "high_risk"),
            ("norton", 12, "high_risk"),
            ("norton", 13, "risk"),
            ("norton", 14, "risk"),
            ("norton", 15, "no_risk"),
            ("norton", 20, "no_risk"),
        ];
        for (code, score, expected) in cases {
            let instrument = registered(code);
            let evaluation = instrument.evaluate(&answers_scoring(instrument, score)).unwrap();
            assert_eq!(evaluation.outcome.score, Some(Points::whole(score)), "{code} {score}");
            assert_eq!(band_code(&evaluation), Some(expected), "{code} {score}");
        }
    }

    #[test]
    fn tinetti_counts_sixteen_for_balance_and_twelve_for_gait() {
        let tinetti = registered("tinetti");
        let most = |item: &Item| item.answers.iter().filter_map(|a| a.points).max().unwrap().halves() / 2;
        let balance: i32 = tinetti.items[..10].iter().map(most).sum();
        let gait: i32 = tinetti.items[10..].iter().map(most).sum();
        assert_eq!((balance, gait), (16, 12));
        assert_eq!(tinetti.items[10].code, "initiation_marche");
        // Every Doloplus-2 item is scored 0 to 3, every Norton item 1 to 4.
        for (code, low, high) in [("doloplus-2", 0, 3), ("norton", 1, 4)] {
            for item in registered(code).items {
                let points: Vec<i32> = item.answers.iter().map(|a| a.points.unwrap().halves() / 2).collect();
                assert_eq!(points, (low..=high).collect::<Vec<_>>(), "{code} {}", item.code);
            }
        }
    }

    #[test]
    fn doloplus_sums_its_ten_items() {
        let doloplus = registered("doloplus-2");
        let mut answers = extreme_answers(doloplus, false);
        answers["plaintes_somatiques"] = json!("spontanees_continues");
        answers["sommeil"] = json!("endormissement_difficile");
        let evaluation = doloplus.evaluate(&answers).unwrap();
        assert_eq!(
            (evaluation.outcome.score, band_code(&evaluation)),
            (Some(Points::whole(4)), Some("pain_not_established"))
        );
        answers["mouvements"] = json!("actifs_limites");
        let evaluation = doloplus.evaluate(&answers).unwrap();
        assert_eq!((evaluation.outcome.score, band_code(&evaluation)), (Some(Points::whole(5)), Some("pain")));
        answers.as_object_mut().unwrap().remove("vie_sociale");
        let errors = doloplus.evaluate(&answers).unwrap_err();
        assert_eq!(error_fields(&errors), vec![("answers.vie_sociale", "is missing")]);
    }
}
