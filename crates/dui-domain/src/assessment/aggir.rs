//! The AGGIR grid (Autonomie gérontologique groupes iso-ressources) and its GIR, exactly as the
//! code de l'action sociale et des familles sets them out in its annexe 2-2 (version in force,
//! from the décret n° 2008-821 of 21 August 2008).
//!
//! An evaluator codes ten discriminant variables A (the person does it alone, totally,
//! habitually and correctly), B (partly) or C (does not do it), either directly or through the
//! four adverbs, and some of them through sub-variables. The annex's algorithm turns the ten codes
//! into a rank (1 to 13) and the rank into a GIR (1, the most dependent, to 6). Seven
//! illustrative variables are recorded alongside but never enter the GIR.
//!
//! The input is free-form JSON ([`AggirEvaluation::parse`]) so that an evaluator's form can send
//! whatever level of detail it collected; everything given is kept, so the stored evaluation shows
//! how each code was reached.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::validation::ValidationErrors;

crate::text_codes! {
    /// How an activity is done.
    pub enum Code {
        /// Does it alone, totally, habitually and correctly.
        A = "A",
        /// Does it partly, or not habitually, or not correctly.
        B = "B",
        /// Does not do it.
        C = "C",
    }
}

crate::text_codes! {
    /// The ten discriminant variables, in the annex's order. Only the first eight weigh in the
    /// GIR; déplacement extérieur and alerter weigh 0 in every group.
    pub enum Variable {
        /// Cohérence: converser et/ou se comporter de façon sensée.
        Coherence = "coherence",
        /// Orientation: se repérer dans le temps, les moments de la journée et dans les lieux.
        Orientation = "orientation",
        /// Toilette: assurer son hygiène corporelle.
        Toilette = "toilette",
        /// Habillage: s'habiller, se déshabiller, se présenter.
        Habillage = "habillage",
        /// Alimentation: se servir et manger les aliments préparés.
        Alimentation = "alimentation",
        /// Élimination: assurer l'hygiène de l'élimination urinaire et fécale.
        Elimination = "elimination",
        /// Transferts: se lever, se coucher, s'asseoir.
        Transferts = "transferts",
        /// Déplacement à l'intérieur (du logement, de l'établissement).
        DeplacementInterieur = "deplacement_interieur",
        /// Déplacement à l'extérieur, à partir de la porte d'entrée.
        DeplacementExterieur = "deplacement_exterieur",
        /// Alerter: utiliser un moyen de communication à distance pour alerter.
        Alerter = "alerter",
    }
}

crate::text_codes! {
    /// The seven illustrative variables: recorded with the grid, never used in the GIR.
    pub enum IllustrativeVariable {
        /// Gestion: gérer ses affaires, son budget, ses biens.
        Gestion = "gestion",
        /// Cuisine: préparer ses repas et les conditionner pour être servis.
        Cuisine = "cuisine",
        /// Ménage: effectuer l'ensemble des travaux ménagers.
        Menage = "menage",
        /// Transports: prendre et/ou commander un moyen de transport.
        Transports = "transports",
        /// Achats: acquisition directe ou par correspondance.
        Achats = "achats",
        /// Suivi du traitement: se conformer à l'ordonnance du médecin.
        SuiviTraitement = "suivi_traitement",
        /// Activités de temps libre: activités sportives, culturelles, sociales, de loisirs.
        ActivitesTempsLibre = "activites_temps_libre",
    }
}

crate::text_codes! {
    /// The annex's groups of weights, tried in order from A to H.
    pub enum Group {
        A = "A",
        B = "B",
        C = "C",
        D = "D",
        E = "E",
        F = "F",
        G = "G",
        H = "H",
    }
}

/// The discriminant variables as an array, in the order of [`Variable::ALL`], which is also the
/// order of the weights in [`GROUPS`].
const VARIABLES: [Variable; 10] = [
    Variable::Coherence,
    Variable::Orientation,
    Variable::Toilette,
    Variable::Habillage,
    Variable::Alimentation,
    Variable::Elimination,
    Variable::Transferts,
    Variable::DeplacementInterieur,
    Variable::DeplacementExterieur,
    Variable::Alerter,
];

const ILLUSTRATIVE: [IllustrativeVariable; 7] = [
    IllustrativeVariable::Gestion,
    IllustrativeVariable::Cuisine,
    IllustrativeVariable::Menage,
    IllustrativeVariable::Transports,
    IllustrativeVariable::Achats,
    IllustrativeVariable::SuiviTraitement,
    IllustrativeVariable::ActivitesTempsLibre,
];

/// The keys of the four adverbs, in the order the guide asks them.
const ADVERBS: [&str; 4] = ["spontaneously", "totally", "correctly", "habitually"];

impl Variable {
    /// The French name, as on the grid.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Coherence => "Cohérence",
            Self::Orientation => "Orientation",
            Self::Toilette => "Toilette",
            Self::Habillage => "Habillage",
            Self::Alimentation => "Alimentation",
            Self::Elimination => "Élimination",
            Self::Transferts => "Transferts",
            Self::DeplacementInterieur => "Déplacement à l'intérieur",
            Self::DeplacementExterieur => "Déplacement à l'extérieur",
            Self::Alerter => "Alerter",
        }
    }

    /// The keys of the sub-variables through which this variable may be coded, in the annex's
    /// order; empty for a variable coded as a whole only.
    pub const fn sub_variables(self) -> &'static [&'static str] {
        match self {
            Self::Coherence => &["communication", "comportement"],
            Self::Orientation => &["temps", "espace"],
            Self::Toilette => &["haut", "bas"],
            Self::Habillage => &["haut", "moyen", "bas"],
            Self::Alimentation => &["se_servir", "manger"],
            Self::Elimination => &["urinaire", "fecale"],
            Self::Transferts | Self::DeplacementInterieur | Self::DeplacementExterieur | Self::Alerter => &[],
        }
    }

    /// The variable's code from its sub-variables' codes, given in the order of
    /// [`Variable::sub_variables`]; `None` when the count does not match.
    pub fn combine(self, parts: &[Code]) -> Option<Code> {
        match (self, parts) {
            (Self::Coherence | Self::Orientation, &[first, second]) => Some(coherence_or_orientation(first, second)),
            (Self::Toilette, [_, _]) | (Self::Habillage, [_, _, _]) => Some(toilette_or_habillage(parts)),
            (Self::Alimentation, &[se_servir, manger]) => Some(alimentation(se_servir, manger)),
            (Self::Elimination, &[urinaire, fecale]) => Some(elimination(urinaire, fecale)),
            _ => None,
        }
    }
}

impl IllustrativeVariable {
    /// The French name, as on the grid.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Gestion => "Gestion",
            Self::Cuisine => "Cuisine",
            Self::Menage => "Ménage",
            Self::Transports => "Transports",
            Self::Achats => "Achats",
            Self::SuiviTraitement => "Suivi du traitement",
            Self::ActivitesTempsLibre => "Activités de temps libre",
        }
    }
}

/// The four adverbs of the 2008 guide: does the person do the activity spontanément,
/// totalement, correctement, habituellement?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Adverbs {
    /// Spontanément: without being prompted.
    pub spontaneously: bool,
    /// Totalement: the whole activity.
    pub totally: bool,
    /// Correctement: as it should be done.
    pub correctly: bool,
    /// Habituellement: each time it is needed.
    pub habitually: bool,
}

impl Adverbs {
    /// All four yes → A; all four no → C; any mix → B.
    pub const fn code(self) -> Code {
        match (self.spontaneously, self.totally, self.correctly, self.habitually) {
            (true, true, true, true) => Code::A,
            (false, false, false, false) => Code::C,
            _ => Code::B,
        }
    }
}

/// One activity as the evaluator gave it: a code, or the four adverbs it derives from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Coding {
    /// The evaluator's code.
    Code(Code),
    /// The adverbs, from which the code follows.
    Adverbs(Adverbs),
}

impl Coding {
    /// The code, derived from the adverbs if that is how it was given.
    pub const fn code(self) -> Code {
        match self {
            Self::Code(code) => code,
            Self::Adverbs(adverbs) => adverbs.code(),
        }
    }
}

/// A discriminant variable as the evaluator gave it. Serialises to the form it was given in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableInput {
    /// Coded as a whole, by a code or by the adverbs.
    Whole(Coding),
    /// Coded through every one of its sub-variables, in the order of
    /// [`Variable::sub_variables`].
    SubVariables(Vec<(&'static str, Coding)>),
}

impl Serialize for VariableInput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Whole(coding) => coding.serialize(serializer),
            Self::SubVariables(parts) => {
                let mut map = serializer.serialize_map(Some(parts.len()))?;
                for (name, coding) in parts {
                    map.serialize_entry(name, coding)?;
                }
                map.end()
            }
        }
    }
}

/// Toilette (haut, bas) and habillage (haut, moyen, bas): all A → A; all C → C; otherwise B.
pub fn toilette_or_habillage(parts: &[Code]) -> Code {
    if parts.iter().all(|&code| code == Code::A) {
        Code::A
    } else if parts.iter().all(|&code| code == Code::C) {
        Code::C
    } else {
        Code::B
    }
}

/// Alimentation (se servir, manger): AA → A; CC, BC, CB → C; otherwise B (so AC and CA give B:
/// a person who eats alone what others served is only partly dependent).
pub const fn alimentation(se_servir: Code, manger: Code) -> Code {
    use Code::{A, B, C};
    match (se_servir, manger) {
        (A, A) => A,
        (C, C) | (B, C) | (C, B) => C,
        (A, B) | (B, A) | (B, B) | (A, C) | (C, A) => B,
    }
}

/// Élimination (urinaire, fécale): AA → A; any C (CC, CB, BC, CA, AC) → C; otherwise B.
pub const fn elimination(urinaire: Code, fecale: Code) -> Code {
    use Code::{A, B, C};
    match (urinaire, fecale) {
        (A, A) => A,
        (C, C) | (C, B) | (B, C) | (C, A) | (A, C) => C,
        (A, B) | (B, A) | (B, B) => B,
    }
}

/// Cohérence (communication, comportement) and orientation (temps, espace): AA → A; AB, BA,
/// BB → B; CC, BC, CB, AC, CA → C.
pub const fn coherence_or_orientation(first: Code, second: Code) -> Code {
    use Code::{A, B, C};
    match (first, second) {
        (A, A) => A,
        (A, B) | (B, A) | (B, B) => B,
        (C, C) | (B, C) | (C, B) | (A, C) | (C, A) => C,
    }
}

/// The code of each discriminant variable: the input of the GIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VariableCodes {
    pub coherence: Code,
    pub orientation: Code,
    pub toilette: Code,
    pub habillage: Code,
    pub alimentation: Code,
    pub elimination: Code,
    pub transferts: Code,
    pub deplacement_interieur: Code,
    pub deplacement_exterieur: Code,
    pub alerter: Code,
}

impl VariableCodes {
    /// From the codes in the order of [`Variable::ALL`].
    pub const fn from_array(codes: [Code; 10]) -> Self {
        let [
            coherence,
            orientation,
            toilette,
            habillage,
            alimentation,
            elimination,
            transferts,
            deplacement_interieur,
            deplacement_exterieur,
            alerter,
        ] = codes;
        Self {
            coherence,
            orientation,
            toilette,
            habillage,
            alimentation,
            elimination,
            transferts,
            deplacement_interieur,
            deplacement_exterieur,
            alerter,
        }
    }

    /// The codes in the order of [`Variable::ALL`].
    pub const fn to_array(self) -> [Code; 10] {
        [
            self.coherence,
            self.orientation,
            self.toilette,
            self.habillage,
            self.alimentation,
            self.elimination,
            self.transferts,
            self.deplacement_interieur,
            self.deplacement_exterieur,
            self.alerter,
        ]
    }

    /// The code of one variable.
    pub const fn get(&self, variable: Variable) -> Code {
        match variable {
            Variable::Coherence => self.coherence,
            Variable::Orientation => self.orientation,
            Variable::Toilette => self.toilette,
            Variable::Habillage => self.habillage,
            Variable::Alimentation => self.alimentation,
            Variable::Elimination => self.elimination,
            Variable::Transferts => self.transferts,
            Variable::DeplacementInterieur => self.deplacement_interieur,
            Variable::DeplacementExterieur => self.deplacement_exterieur,
            Variable::Alerter => self.alerter,
        }
    }
}

/// A GIR and how the annex's algorithm reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GirResult {
    /// 1 (the most dependent) to 6.
    pub gir: u8,
    /// The first group whose sum reached one of its thresholds.
    pub group: Group,
    /// 1 to 13.
    pub rank: u8,
}

/// One row of the annex's table.
struct GroupRule {
    group: Group,
    /// The weight of each of the eight weighted variables when coded C, in the order cohérence,
    /// orientation, toilette, habillage, alimentation, élimination, transferts, déplacement
    /// intérieur. A weighs 0.
    if_c: [i32; 8],
    /// The same when coded B.
    if_b: [i32; 8],
    /// (minimum sum, rank), tried in order.
    ranks: &'static [(i32, u8)],
}

impl GroupRule {
    fn sum(&self, codes: &VariableCodes) -> i32 {
        VARIABLES
            .iter()
            .zip(self.if_c.iter().zip(&self.if_b))
            .map(|(&variable, (&if_c, &if_b))| match codes.get(variable) {
                Code::A => 0,
                Code::B => if_b,
                Code::C => if_c,
            })
            .sum()
    }
}

/// CASF annexe 2-2, the table in force (décret n° 2008-821). Group F is this table's row, not the
/// 1997 decree's. Group H has a last rank, 13, for any sum below 2000: see [`gir`].
#[rustfmt::skip]
const GROUPS: [GroupRule; 8] = [
    //                                 cohér. orient. toil. habil. alim. élim. transf. dépl.int.
    GroupRule { group: Group::A, if_c: [2000,  1200,    40,   40,    60,  100,   800,   200],
                                 if_b: [   0,     0,    16,   16,    20,   16,   120,    32],
                ranks: &[(4380, 1), (4140, 2), (3390, 3)] },
    GroupRule { group: Group::B, if_c: [1500,  1200,    40,   40,    60,  100,   800,   -80],
                                 if_b: [ 320,   120,    16,   16,     0,   16,   120,   -40],
                ranks: &[(2016, 4)] },
    GroupRule { group: Group::C, if_c: [   0,     0,    40,   40,    60,  160,  1000,   400],
                                 if_b: [   0,     0,    16,   16,    20,   20,   200,    40],
                ranks: &[(1700, 5), (1432, 6)] },
    GroupRule { group: Group::D, if_c: [   0,     0,     0,    0,  2000,  400,  2000,   200],
                                 if_b: [   0,     0,     0,    0,   200,  200,   200,     0],
                ranks: &[(2400, 7)] },
    GroupRule { group: Group::E, if_c: [ 400,   400,   400,  400,   400,  800,   800,   200],
                                 if_b: [   0,     0,   100,  100,   100,  100,   100,     0],
                ranks: &[(1200, 8)] },
    GroupRule { group: Group::F, if_c: [ 200,   200,   500,  500,   500,  500,   500,   200],
                                 if_b: [ 100,   100,   100,  100,   100,  100,   100,     0],
                ranks: &[(800, 9)] },
    GroupRule { group: Group::G, if_c: [ 150,   150,   300,  300,   500,  500,   400,   200],
                                 if_b: [   0,     0,   200,  200,   200,  200,   200,   100],
                ranks: &[(650, 10)] },
    GroupRule { group: Group::H, if_c: [   0,     0,  3000, 3000,  3000, 3000,  1000,  1000],
                                 if_b: [   0,     0,  2000, 2000,  2000, 2000,  2000,  1000],
                ranks: &[(4000, 11), (2000, 12)] }, // else 13
];

/// Group H's rank when its sum reaches none of its thresholds: the annex's "else 13".
const LAST_RANK: u8 = 13;

/// The GIR of a rank: 1 → 1; 2–7 → 2; 8–9 → 3; 10–11 → 4; 12 → 5; 13 → 6. `None` outside 1 to 13.
pub const fn gir_of_rank(rank: u8) -> Option<u8> {
    match rank {
        1 => Some(1),
        2..=7 => Some(2),
        8 | 9 => Some(3),
        10 | 11 => Some(4),
        12 => Some(5),
        13 => Some(6),
        _ => None,
    }
}

/// The GIR of ten codes: the groups are tried from A to H, and the first whose sum reaches one of
/// its thresholds gives the rank; group H always gives one.
pub fn gir(codes: &VariableCodes) -> GirResult {
    let reached = GROUPS.iter().find_map(|rule| {
        let sum = rule.sum(codes);
        rule.ranks.iter().find(|&&(min, _)| sum >= min).map(|&(_, rank)| (rule.group, rank))
    });
    let (group, rank) = reached.unwrap_or((Group::H, LAST_RANK));
    // Every rank of the table is within 1..=13 (tested), so the fallback is never taken.
    GirResult { gir: gir_of_rank(rank).unwrap_or(6), group, rank }
}

/// A parsed AGGIR evaluation: what the evaluator gave for each variable (codes, sub-variables,
/// adverbs) and the code each discriminant variable comes to.
///
/// It serialises to the input form (`{"variables": {...}, "illustrative": {...}}`), which
/// [`AggirEvaluation::parse`] reads back to the same value: store that, and the codes and the GIR
/// follow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggirEvaluation {
    variables: [VariableInput; 10],
    illustrative: [Option<Coding>; 7],
    codes: VariableCodes,
}

impl AggirEvaluation {
    /// Parses `{"variables": {...}, "illustrative": {...}}`. Each of the ten discriminant
    /// variables is required, as a code (`"A"`), as the four adverbs
    /// (`{"spontaneously": true, "totally": true, "correctly": false, "habitually": true}`) or,
    /// where it has sub-variables, as an object of every sub-variable, each a code or adverbs.
    /// The illustrative variables are optional, each a code or adverbs.
    ///
    /// Every problem is reported, each naming its field by a dotted path
    /// (`variables.toilette.haut`).
    pub fn parse(body: &Value) -> Result<Self, ValidationErrors> {
        Self::parse_at(body, None)
    }

    /// [`AggirEvaluation::parse`] for a value nested under `root` (`answers`): the fields are
    /// named `root.variables...`.
    pub(crate) fn parse_at(body: &Value, root: Option<&str>) -> Result<Self, ValidationErrors> {
        let prefix = root.unwrap_or("");
        let Some(object) = body.as_object() else {
            return Err(ValidationErrors::single(root.unwrap_or("body"), "must be an object"));
        };
        let mut errors = ValidationErrors::new();

        let variables_path = path(prefix, "variables");
        let mut parsed: [Option<(VariableInput, Code)>; 10] = Default::default();
        match object.get("variables") {
            None => errors.add(&variables_path, "is missing"),
            Some(Value::Object(given)) => {
                for (slot, variable) in parsed.iter_mut().zip(VARIABLES) {
                    let field = path(&variables_path, variable.as_str());
                    match given.get(variable.as_str()) {
                        None => errors.add(field, "is missing"),
                        Some(value) => *slot = parse_variable(variable, value, &field, &mut errors),
                    }
                }
                for key in given.keys().filter(|key| Variable::parse(key).is_none()) {
                    errors.add(path(&variables_path, key), "is not an AGGIR variable");
                }
            }
            Some(_) => errors.add(&variables_path, "must be an object"),
        }

        let illustrative_path = path(prefix, "illustrative");
        let mut illustrative: [Option<Coding>; 7] = [None; 7];
        match object.get("illustrative") {
            None => {}
            Some(Value::Object(given)) => {
                for (slot, variable) in illustrative.iter_mut().zip(ILLUSTRATIVE) {
                    if let Some(value) = given.get(variable.as_str()) {
                        *slot = parse_coding(value, &path(&illustrative_path, variable.as_str()), &mut errors);
                    }
                }
                for key in given.keys().filter(|key| IllustrativeVariable::parse(key).is_none()) {
                    errors.add(path(&illustrative_path, key), "is not an AGGIR illustrative variable");
                }
            }
            Some(_) => errors.add(&illustrative_path, "must be an object"),
        }

        for key in object.keys().filter(|key| !matches!(key.as_str(), "variables" | "illustrative")) {
            errors.add(path(prefix, key), "is not expected");
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        // Nothing was recorded, so every variable was parsed.
        let mut inputs = Vec::with_capacity(VARIABLES.len());
        let mut codes = [Code::A; 10];
        for ((slot, code), variable) in parsed.into_iter().zip(&mut codes).zip(VARIABLES) {
            let Some((input, variable_code)) = slot else {
                return Err(ValidationErrors::single(path(&variables_path, variable.as_str()), "is missing"));
            };
            inputs.push(input);
            *code = variable_code;
        }
        let variables: [VariableInput; 10] =
            inputs.try_into().map_err(|_| ValidationErrors::single(&variables_path, "is incomplete"))?;
        Ok(Self { variables, illustrative, codes: VariableCodes::from_array(codes) })
    }

    /// An evaluation whose ten variables were given directly as codes, without illustrative
    /// variables.
    pub fn from_codes(codes: VariableCodes) -> Self {
        Self {
            variables: codes.to_array().map(|code| VariableInput::Whole(Coding::Code(code))),
            illustrative: [None; 7],
            codes,
        }
    }

    /// What was given for a discriminant variable.
    pub fn given(&self, variable: Variable) -> &VariableInput {
        // The array follows `VARIABLES`, the declaration order, hence the discriminant as index.
        &self.variables[variable as usize]
    }

    /// What was given for an illustrative variable, if anything.
    pub fn illustrative(&self, variable: IllustrativeVariable) -> Option<Coding> {
        self.illustrative[variable as usize]
    }

    /// The code of each discriminant variable.
    pub fn codes(&self) -> &VariableCodes {
        &self.codes
    }

    /// The GIR of this evaluation.
    pub fn gir(&self) -> GirResult {
        gir(&self.codes)
    }
}

impl Serialize for AggirEvaluation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Variables<'a>(&'a [VariableInput; 10]);
        impl Serialize for Variables<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(VARIABLES.len()))?;
                for (variable, input) in VARIABLES.iter().zip(self.0) {
                    map.serialize_entry(variable.as_str(), input)?;
                }
                map.end()
            }
        }
        struct Illustrative<'a>(&'a [Option<Coding>; 7]);
        impl Serialize for Illustrative<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(None)?;
                for (variable, coding) in ILLUSTRATIVE.iter().zip(self.0) {
                    if let Some(coding) = coding {
                        map.serialize_entry(variable.as_str(), coding)?;
                    }
                }
                map.end()
            }
        }

        let with_illustrative = self.illustrative.iter().any(Option::is_some);
        let mut map = serializer.serialize_map(Some(1 + usize::from(with_illustrative)))?;
        map.serialize_entry("variables", &Variables(&self.variables))?;
        if with_illustrative {
            map.serialize_entry("illustrative", &Illustrative(&self.illustrative))?;
        }
        map.end()
    }
}

const NOT_A_CODING: &str = "must be A, B or C, or the four adverbs";

/// `prefix.key`, or `key` at the root.
fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") }
}

/// A discriminant variable: a code, the adverbs, or (where it has some) its sub-variables. An
/// object is read as sub-variables when it has one of their keys, as adverbs otherwise.
fn parse_variable(
    variable: Variable,
    value: &Value,
    field: &str,
    errors: &mut ValidationErrors,
) -> Option<(VariableInput, Code)> {
    let sub_variables = variable.sub_variables();
    if let Value::Object(given) = value {
        let has_sub_variable = given.keys().any(|key| sub_variables.contains(&key.as_str()));
        let has_adverb = given.keys().any(|key| ADVERBS.contains(&key.as_str()));
        match (has_sub_variable, has_adverb) {
            (true, true) => {
                errors.add(field, "mixes adverbs and sub-variables");
                return None;
            }
            (true, false) => return parse_sub_variables(variable, given, field, errors),
            (false, false) if !sub_variables.is_empty() => {
                errors.add(
                    field,
                    format!("must be A, B or C, the four adverbs, or the sub-variables {}", sub_variables.join(", ")),
                );
                return None;
            }
            (false, _) => {}
        }
    }
    parse_coding(value, field, errors).map(|coding| (VariableInput::Whole(coding), coding.code()))
}

fn parse_sub_variables(
    variable: Variable,
    given: &Map<String, Value>,
    field: &str,
    errors: &mut ValidationErrors,
) -> Option<(VariableInput, Code)> {
    let names = variable.sub_variables();
    for key in given.keys().filter(|key| !names.contains(&key.as_str())) {
        errors.add(path(field, key), format!("is not a sub-variable of {variable} ({})", names.join(", ")));
    }
    let mut parts = Vec::with_capacity(names.len());
    for &name in names {
        let part_field = path(field, name);
        match given.get(name) {
            None => errors.add(part_field, "is missing"),
            Some(value) => {
                if let Some(coding) = parse_coding(value, &part_field, errors) {
                    parts.push((name, coding));
                }
            }
        }
    }
    let codes: Vec<Code> = parts.iter().map(|(_, coding)| coding.code()).collect();
    // A missing or invalid part leaves `codes` short, and `combine` refuses it.
    let code = variable.combine(&codes)?;
    Some((VariableInput::SubVariables(parts), code))
}

/// A code (`"A"`) or the four adverbs.
fn parse_coding(value: &Value, field: &str, errors: &mut ValidationErrors) -> Option<Coding> {
    match value {
        Value::String(text) => {
            let code = Code::parse(text);
            if code.is_none() {
                errors.add(field, NOT_A_CODING);
            }
            code.map(Coding::Code)
        }
        Value::Object(given) if given.keys().any(|key| ADVERBS.contains(&key.as_str())) => {
            parse_adverbs(given, field, errors).map(Coding::Adverbs)
        }
        _ => {
            errors.add(field, NOT_A_CODING);
            None
        }
    }
}

fn parse_adverbs(given: &Map<String, Value>, field: &str, errors: &mut ValidationErrors) -> Option<Adverbs> {
    let mut complete = true;
    for key in given.keys().filter(|key| !ADVERBS.contains(&key.as_str())) {
        errors.add(path(field, key), "is not an adverb (spontaneously, totally, correctly, habitually)");
        complete = false;
    }
    let mut flag = |name: &str| match given.get(name) {
        Some(Value::Bool(value)) => Some(*value),
        Some(_) => {
            errors.add(path(field, name), "must be true or false");
            None
        }
        None => {
            errors.add(path(field, name), "is missing");
            None
        }
    };
    let [spontaneously, totally, correctly, habitually] = ADVERBS.map(&mut flag);
    match (spontaneously, totally, correctly, habitually) {
        (Some(spontaneously), Some(totally), Some(correctly), Some(habitually)) if complete => {
            Some(Adverbs { spontaneously, totally, correctly, habitually })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use Code::{A, B, C};

    /// Ten codes written as letters in the order of [`Variable::ALL`] (cohérence, orientation,
    /// toilette, habillage, alimentation, élimination, transferts, déplacement intérieur,
    /// déplacement extérieur, alerter); spaces are ignored.
    fn profile(letters: &str) -> VariableCodes {
        let codes: Vec<Code> = letters
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| Code::parse(&c.to_string()).expect("a code letter"))
            .collect();
        VariableCodes::from_array(codes.try_into().expect("ten codes"))
    }

    fn sum(group: Group, codes: &VariableCodes) -> i32 {
        GROUPS.iter().find(|rule| rule.group == group).expect("a group of the table").sum(codes)
    }

    fn error_fields(errors: &ValidationErrors) -> Vec<(&str, &str)> {
        errors.errors().iter().map(|e| (e.field.as_str(), e.message.as_str())).collect()
    }

    #[test]
    fn constants_follow_the_declarations() {
        assert_eq!(VARIABLES.as_slice(), Variable::ALL);
        assert_eq!(ILLUSTRATIVE.as_slice(), IllustrativeVariable::ALL);
        assert_eq!(GROUPS.iter().map(|rule| rule.group).collect::<Vec<_>>(), Group::ALL);
        for (i, variable) in VARIABLES.iter().enumerate() {
            assert_eq!(*variable as usize, i);
        }
        for (i, variable) in ILLUSTRATIVE.iter().enumerate() {
            assert_eq!(*variable as usize, i);
        }
        // Every rank of the table has a GIR, so `gir` never takes its fallback.
        for rule in &GROUPS {
            for &(_, rank) in rule.ranks {
                assert!(gir_of_rank(rank).is_some(), "rank {rank}");
            }
        }
    }

    #[test]
    fn table_matches_a_second_transcription_of_the_annex() {
        // The annex's table typed again, row by row, as it reads: weights if C, weights if B,
        // thresholds. A typo in either transcription fails here.
        let annex = "
            A | 2000 1200 40 40 60 100 800 200       | 0 0 16 16 20 16 120 32             | 4380 1 4140 2 3390 3
            B | 1500 1200 40 40 60 100 800 -80       | 320 120 16 16 0 16 120 -40         | 2016 4
            C | 0 0 40 40 60 160 1000 400            | 0 0 16 16 20 20 200 40             | 1700 5 1432 6
            D | 0 0 0 0 2000 400 2000 200            | 0 0 0 0 200 200 200 0              | 2400 7
            E | 400 400 400 400 400 800 800 200      | 0 0 100 100 100 100 100 0          | 1200 8
            F | 200 200 500 500 500 500 500 200      | 100 100 100 100 100 100 100 0      | 800 9
            G | 150 150 300 300 500 500 400 200      | 0 0 200 200 200 200 200 100        | 650 10
            H | 0 0 3000 3000 3000 3000 1000 1000    | 0 0 2000 2000 2000 2000 2000 1000  | 4000 11 2000 12
        ";
        let numbers = |text: &str| -> Vec<i32> { text.split_whitespace().map(|n| n.parse().unwrap()).collect() };
        let rows: Vec<&str> = annex.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
        assert_eq!(rows.len(), GROUPS.len());
        for (row, rule) in rows.iter().zip(&GROUPS) {
            let columns: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(columns[0], rule.group.as_str());
            assert_eq!(numbers(columns[1]), rule.if_c, "group {} if C", rule.group);
            assert_eq!(numbers(columns[2]), rule.if_b, "group {} if B", rule.group);
            let ranks: Vec<i32> = rule.ranks.iter().flat_map(|&(min, rank)| [min, i32::from(rank)]).collect();
            assert_eq!(numbers(columns[3]), ranks, "group {} thresholds", rule.group);
        }
    }

    #[test]
    fn codes_serialise_as_letters() {
        assert_eq!(serde_json::to_value([A, B, C]).unwrap(), json!(["A", "B", "C"]));
        assert_eq!(serde_json::to_value(Group::H).unwrap(), json!("H"));
        assert_eq!(serde_json::to_value(Variable::DeplacementInterieur).unwrap(), json!("deplacement_interieur"));
    }

    #[test]
    fn adverbs_give_a_only_when_all_four_hold_and_c_only_when_none_does() {
        for bits in 0u8..16 {
            let adverbs = Adverbs {
                spontaneously: bits & 1 != 0,
                totally: bits & 2 != 0,
                correctly: bits & 4 != 0,
                habitually: bits & 8 != 0,
            };
            let expected = match bits {
                15 => A,
                0 => C,
                _ => B,
            };
            assert_eq!(adverbs.code(), expected, "{adverbs:?}");
            assert_eq!(Coding::Adverbs(adverbs).code(), expected);
        }
    }

    #[test]
    fn toilette_combination_table() {
        let table = [
            ([A, A], A),
            ([A, B], B),
            ([A, C], B),
            ([B, A], B),
            ([B, B], B),
            ([B, C], B),
            ([C, A], B),
            ([C, B], B),
            ([C, C], C),
        ];
        for (parts, expected) in table {
            assert_eq!(toilette_or_habillage(&parts), expected, "{parts:?}");
            assert_eq!(Variable::Toilette.combine(&parts), Some(expected), "{parts:?}");
        }
    }

    #[test]
    fn habillage_combination_table() {
        // All 27 triples: A only when all three are A, C only when all three are C.
        let mut seen = 0;
        for haut in Code::ALL {
            for moyen in Code::ALL {
                for bas in Code::ALL {
                    let parts = [*haut, *moyen, *bas];
                    let expected = match parts {
                        [A, A, A] => A,
                        [C, C, C] => C,
                        _ => B,
                    };
                    assert_eq!(Variable::Habillage.combine(&parts), Some(expected), "{parts:?}");
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, 27);
        assert_eq!(Variable::Habillage.combine(&[A, A]), None);
    }

    #[test]
    fn pair_combination_tables() {
        // (first, second) → (alimentation, élimination, cohérence/orientation), as the annex lists.
        let table = [
            (A, A, A, A, A),
            (A, B, B, B, B),
            (A, C, B, C, C),
            (B, A, B, B, B),
            (B, B, B, B, B),
            (B, C, C, C, C),
            (C, A, B, C, C),
            (C, B, C, C, C),
            (C, C, C, C, C),
        ];
        for (first, second, alim, elim, coh) in table {
            let pair = [first, second];
            assert_eq!(alimentation(first, second), alim, "alimentation {pair:?}");
            assert_eq!(Variable::Alimentation.combine(&pair), Some(alim));
            assert_eq!(elimination(first, second), elim, "élimination {pair:?}");
            assert_eq!(Variable::Elimination.combine(&pair), Some(elim));
            assert_eq!(coherence_or_orientation(first, second), coh, "cohérence {pair:?}");
            assert_eq!(Variable::Coherence.combine(&pair), Some(coh));
            assert_eq!(Variable::Orientation.combine(&pair), Some(coh));
        }
        assert_eq!(Variable::Transferts.combine(&[A, A]), None);
        assert_eq!(Variable::Toilette.combine(&[A, A, A]), None);
    }

    #[test]
    fn rank_to_gir() {
        let expected = [(0, None), (1, Some(1)), (2, Some(2)), (3, Some(2)), (4, Some(2)), (5, Some(2))];
        let rest = [(6, Some(2)), (7, Some(2)), (8, Some(3)), (9, Some(3)), (10, Some(4)), (11, Some(4))];
        let last = [(12, Some(5)), (13, Some(6)), (14, None), (255, None)];
        for (rank, gir) in expected.into_iter().chain(rest).chain(last) {
            assert_eq!(gir_of_rank(rank), gir, "rank {rank}");
        }
    }

    #[test]
    fn every_threshold_of_every_group() {
        // Each case: a profile (cohér. orient. toil. habil. alim. élim. transf. dépl.int.
        // dépl.ext. alerter), the sums of the groups it goes through, computed from the table,
        // and the group, rank and GIR it gets. Déplacement extérieur and alerter weigh nothing:
        // they vary across cases without effect.
        struct Case {
            profile: &'static str,
            sums: &'static [(Group, i32)],
            expected: (Group, u8, u8),
        }
        let cases = [
            // A, rank 1 (≥ 4380): 2000 + 1200 + 40 + 40 + 0 (alim. A) + 100 + 800 + 200 = 4380.
            Case { profile: "CCCC ACCC CC", sums: &[(Group::A, 4380)], expected: (Group::A, 1, 1) },
            // Just below: 2000 + 1200 + 0 + 16 + 60 + 100 + 800 + 200 = 4376 → rank 2 (≥ 4140).
            Case { profile: "CCAB CCCC AA", sums: &[(Group::A, 4376)], expected: (Group::A, 2, 2) },
            // A, rank 2 (≥ 4140): 2000 + 1200 + 40 + 40 + 60 + 0 + 800 + 0 = 4140.
            Case { profile: "CCCC CACA CC", sums: &[(Group::A, 4140)], expected: (Group::A, 2, 2) },
            // Just below: 2000 + 1200 + 0 + 16 + 20 + 100 + 800 + 0 = 4136 → rank 3 (≥ 3390).
            Case { profile: "CCAB BCCA BA", sums: &[(Group::A, 4136)], expected: (Group::A, 3, 2) },
            // A, rank 3 (≥ 3390). Every weight of group A is a multiple of 4, so no profile sums
            // to 3390 exactly: the nearest sums are 3392 and 3388.
            // 2000 + 1200 + 16 + 16 + 60 + 100 + 0 + 0 = 3392.
            Case { profile: "CCBB CCAA AA", sums: &[(Group::A, 3392)], expected: (Group::A, 3, 2) },
            // Just below: 2000 + 1200 + 16 + 16 + 20 + 16 + 120 + 0 = 3388, so group B:
            // 1500 + 1200 + 16 + 16 + 0 + 16 + 120 + 0 = 2868 ≥ 2016 → rank 4.
            Case { profile: "CCBB BBBA CC", sums: &[(Group::A, 3388), (Group::B, 2868)], expected: (Group::B, 4, 2) },
            // B, rank 4 (≥ 2016): A 2016 < 3390; B 0 + 1200 + 0 + 0 + 0 + 16 + 800 + 0 = 2016.
            Case { profile: "ACAA ABCA AA", sums: &[(Group::A, 2016), (Group::B, 2016)], expected: (Group::B, 4, 2) },
            // Just below, through B's negative weight for déplacement intérieur:
            // B 1200 + 16 + 60 + 16 + 800 − 80 = 2012; C 16 + 60 + 20 + 1000 + 400 = 1496 → rank 6.
            Case {
                profile: "ACAB CBCC BB",
                sums: &[(Group::A, 2292), (Group::B, 2012), (Group::C, 1496)],
                expected: (Group::C, 6, 2),
            },
            // C, rank 5 (≥ 1700): A 1240, B 960, C 40 + 40 + 60 + 160 + 1000 + 400 = 1700.
            Case {
                profile: "AACC CCCC CC",
                sums: &[(Group::A, 1240), (Group::B, 960), (Group::C, 1700)],
                expected: (Group::C, 5, 2),
            },
            // Just below: C 16 + 40 + 60 + 160 + 1000 + 400 = 1676 → rank 6 (≥ 1432).
            Case { profile: "AABC CCCC AA", sums: &[(Group::C, 1676)], expected: (Group::C, 6, 2) },
            // C, rank 6 (≥ 1432): C 16 + 16 + 0 + 0 + 1000 + 400 = 1432.
            Case {
                profile: "AABB AACC AA",
                sums: &[(Group::A, 1032), (Group::B, 752), (Group::C, 1432)],
                expected: (Group::C, 6, 2),
            },
            // Just below: C 20 + 1000 + 400 = 1420; D 200 + 2000 + 200 = 2400 → rank 7.
            Case { profile: "AAAA ABCC AA", sums: &[(Group::C, 1420), (Group::D, 2400)], expected: (Group::D, 7, 2) },
            // D, rank 7 (≥ 2400): A 900, B 900, C 1160, D 400 + 2000 = 2400.
            Case {
                profile: "AAAA ACCA CA",
                sums: &[(Group::A, 900), (Group::B, 900), (Group::C, 1160), (Group::D, 2400)],
                expected: (Group::D, 7, 2),
            },
            // Just below: D 200 + 2000 = 2200; E 400 + 100 + 800 = 1300 → rank 8.
            Case {
                profile: "AAAC ABCA AA",
                sums: &[(Group::C, 1060), (Group::D, 2200), (Group::E, 1300)],
                expected: (Group::E, 8, 3),
            },
            // Also just below D, falling through E, F and G to H: D 2000 + 200 = 2200, E 1000,
            // F 700, G 600, H 1000 + 1000 = 2000 → rank 12.
            Case {
                profile: "AAAA AACC CC",
                sums: &[
                    (Group::C, 1400),
                    (Group::D, 2200),
                    (Group::E, 1000),
                    (Group::F, 700),
                    (Group::G, 600),
                    (Group::H, 2000),
                ],
                expected: (Group::H, 12, 5),
            },
            // E, rank 8 (≥ 1200): D 2000 < 2400; E 400 + 800 = 1200.
            Case {
                profile: "AAAC AACA AA",
                sums: &[(Group::C, 1040), (Group::D, 2000), (Group::E, 1200)],
                expected: (Group::E, 8, 3),
            },
            // Just below: E 100 + 100 + 800 + 100 = 1100; F 100 × 6 + 500 − 100 (toil. A) = 1000
            // → rank 9.
            Case { profile: "BBAB BCBB BB", sums: &[(Group::E, 1100), (Group::F, 1000)], expected: (Group::F, 9, 3) },
            // F, rank 9 (≥ 800): E 400 + 5 × 100 = 900; F 100 + 200 + 5 × 100 + 0 = 800.
            Case { profile: "BCBB BBBB BB", sums: &[(Group::E, 900), (Group::F, 800)], expected: (Group::F, 9, 3) },
            // Just below: F 7 × 100 + 0 = 700; G 5 × 200 + 100 = 1100 → rank 10.
            Case { profile: "BBBB BBBB BB", sums: &[(Group::F, 700), (Group::G, 1100)], expected: (Group::G, 10, 4) },
            // G, rank 10 (≥ 650): F 200 + 500 = 700; G 150 + 500 = 650.
            Case {
                profile: "ACAA CAAA CC",
                sums: &[(Group::E, 800), (Group::F, 700), (Group::G, 650)],
                expected: (Group::G, 10, 4),
            },
            // Just below: G 500 + 100 = 600; H 3000 + 1000 = 4000 → rank 11.
            Case { profile: "AAAA ACAB AA", sums: &[(Group::G, 600), (Group::H, 4000)], expected: (Group::H, 11, 4) },
            // H, rank 11 (≥ 4000): G 200 + 200 = 400; H 2000 + 2000 = 4000.
            Case { profile: "AAAA ABBA AA", sums: &[(Group::G, 400), (Group::H, 4000)], expected: (Group::H, 11, 4) },
            // Just below: H 3000 → rank 12 (≥ 2000).
            Case { profile: "AAAA ACAA CC", sums: &[(Group::G, 500), (Group::H, 3000)], expected: (Group::H, 12, 5) },
            // H, rank 12 (≥ 2000): H 2000 (transferts B).
            Case { profile: "AAAA AABA AA", sums: &[(Group::G, 200), (Group::H, 2000)], expected: (Group::H, 12, 5) },
            // Just below: H 1000 (déplacement intérieur B) → rank 13.
            Case { profile: "AAAA AAAB AA", sums: &[(Group::G, 100), (Group::H, 1000)], expected: (Group::H, 13, 6) },
        ];
        for case in cases {
            let codes = profile(case.profile);
            for &(group, expected_sum) in case.sums {
                assert_eq!(sum(group, &codes), expected_sum, "{} group {group}", case.profile);
            }
            let (group, rank, gir_expected) = case.expected;
            assert_eq!(gir(&codes), GirResult { gir: gir_expected, group, rank }, "{}", case.profile);
        }
    }

    #[test]
    fn extremes() {
        // All A: every sum is 0, only H's "else" applies.
        assert_eq!(gir(&profile("AAAAAAAAAA")), GirResult { gir: 6, group: Group::H, rank: 13 });
        // All C: A 2000 + 1200 + 40 + 40 + 60 + 100 + 800 + 200 = 4440 ≥ 4380.
        let all_c = profile("CCCCCCCCCC");
        assert_eq!(sum(Group::A, &all_c), 4440);
        assert_eq!(gir(&all_c), GirResult { gir: 1, group: Group::A, rank: 1 });
    }

    #[test]
    fn worked_profiles() {
        let cases = [
            // Cohérence C, orientation C, everything else B (a person with advanced dementia who
            // still takes part in the acts of daily life): A 2000 + 1200 + 16 + 16 + 20 + 16 +
            // 120 + 32 = 3420 ≥ 3390 → rank 3, GIR 2.
            ("CCBB BBBB BB", 3420, GirResult { gir: 2, group: Group::A, rank: 3 }),
            // Lucid and bedridden: toilette, habillage, élimination, transferts, déplacements C,
            // alimentation B, alerter B. A 40 + 40 + 20 + 100 + 800 + 200 = 1200 < 3390;
            // B 40 + 40 + 0 + 100 + 800 − 80 = 900 < 2016; C 40 + 40 + 20 + 160 + 1000 + 400 = 1660,
            // below 1700 but ≥ 1432 → rank 6, GIR 2. The first number is group C's sum.
            ("AACC BCCC CB", 1660, GirResult { gir: 2, group: Group::C, rank: 6 }),
            // Needs help to wash and dress the lower body, goes out with help: toilette B,
            // habillage B, déplacement extérieur B. G 200 + 200 = 400 < 650; H 2000 + 2000 = 4000
            // → rank 11, GIR 4. The first number is group H's sum.
            ("AABB AAAA BA", 4000, GirResult { gir: 4, group: Group::H, rank: 11 }),
            // Toilette and habillage C, élimination and transferts B: E 400 + 400 + 100 + 100 =
            // 1000 < 1200; F 500 + 500 + 100 + 100 = 1200 ≥ 800 → rank 9, GIR 3. The first number
            // is group F's sum.
            ("AACC ABBA BA", 1200, GirResult { gir: 3, group: Group::F, rank: 9 }),
        ];
        for (letters, group_sum, expected) in cases {
            let codes = profile(letters);
            assert_eq!(sum(expected.group, &codes), group_sum, "{letters}");
            assert_eq!(gir(&codes), expected, "{letters}");
        }
    }

    #[test]
    fn every_profile_gets_a_consistent_gir() {
        // All 3^10 profiles: no panic, a rank of the right group, the GIR of that rank, and
        // the two unweighted variables never matter.
        let mut profiles = 0;
        for n in 0..3usize.pow(10) {
            let mut rest = n;
            let codes = [(); 10].map(|()| {
                let code = Code::ALL[rest % 3];
                rest /= 3;
                code
            });
            let result = gir(&VariableCodes::from_array(codes));
            assert_eq!(gir_of_rank(result.rank), Some(result.gir));
            let mut without_extra = codes;
            without_extra[8] = A;
            without_extra[9] = A;
            assert_eq!(gir(&VariableCodes::from_array(without_extra)), result);
            profiles += 1;
        }
        assert_eq!(profiles, 59_049);
    }

    #[test]
    fn parses_each_input_form() {
        let body = json!({
            "variables": {
                "coherence": {"communication": "A", "comportement": "C"},
                "orientation": {"temps": "B", "espace": {"spontaneously": true, "totally": true, "correctly": true, "habitually": true}},
                "toilette": {"haut": "A", "bas": "C"},
                "habillage": {"haut": "A", "moyen": "A", "bas": "A"},
                "alimentation": {"se_servir": "C", "manger": "A"},
                "elimination": {"urinaire": "A", "fecale": "B"},
                "transferts": {"spontaneously": true, "totally": true, "correctly": false, "habitually": true},
                "deplacement_interieur": {"spontaneously": false, "totally": false, "correctly": false, "habitually": false},
                "deplacement_exterieur": "C",
                "alerter": "B"
            },
            "illustrative": {"gestion": "C", "suivi_traitement": {"spontaneously": true, "totally": true, "correctly": true, "habitually": true}}
        });
        let evaluation = AggirEvaluation::parse(&body).unwrap();
        // cohérence AC → C; orientation B + A → B; toilette AC → B; habillage AAA → A;
        // alimentation CA → B; élimination AB → B; transferts (one adverb no) → B;
        // déplacement intérieur (all no) → C.
        assert_eq!(*evaluation.codes(), profile("CBBA BBBC CB"));
        assert_eq!(
            evaluation.given(Variable::Toilette),
            &VariableInput::SubVariables(vec![("haut", Coding::Code(A)), ("bas", Coding::Code(C))])
        );
        assert_eq!(
            evaluation.given(Variable::Transferts),
            &VariableInput::Whole(Coding::Adverbs(Adverbs {
                spontaneously: true,
                totally: true,
                correctly: false,
                habitually: true
            }))
        );
        assert_eq!(evaluation.given(Variable::Alerter), &VariableInput::Whole(Coding::Code(B)));
        assert_eq!(evaluation.illustrative(IllustrativeVariable::Gestion), Some(Coding::Code(C)));
        assert_eq!(evaluation.illustrative(IllustrativeVariable::Cuisine), None);
        assert_eq!(evaluation.illustrative(IllustrativeVariable::SuiviTraitement).map(Coding::code), Some(A));
        assert_eq!(evaluation.gir(), gir(&profile("CBBA BBBC CB")));

        // Stored as given, read back the same, key for key.
        let stored = serde_json::to_value(&evaluation).unwrap();
        assert_eq!(stored, body);
        assert_eq!(AggirEvaluation::parse(&stored).unwrap(), evaluation);
    }

    #[test]
    fn illustrative_variables_do_not_change_the_gir() {
        let mut body = json!({"variables": {
            "coherence": "A", "orientation": "A", "toilette": "B", "habillage": "B", "alimentation": "A",
            "elimination": "A", "transferts": "A", "deplacement_interieur": "A", "deplacement_exterieur": "B",
            "alerter": "A"
        }});
        let without = AggirEvaluation::parse(&body).unwrap();
        body["illustrative"] = json!({
            "gestion": "C", "cuisine": "C", "menage": "C", "transports": "C", "achats": "C",
            "suivi_traitement": "C", "activites_temps_libre": "C"
        });
        let with = AggirEvaluation::parse(&body).unwrap();
        assert_eq!(with.gir(), without.gir());
        assert_eq!(with.gir(), GirResult { gir: 4, group: Group::H, rank: 11 });
        assert_ne!(with, without);
        assert_eq!(AggirEvaluation::parse(&serde_json::to_value(&with).unwrap()).unwrap(), with);
        // No illustrative variable: none is written back.
        assert_eq!(serde_json::to_value(&without).unwrap().get("illustrative"), None);
    }

    #[test]
    fn from_codes_round_trips() {
        let evaluation = AggirEvaluation::from_codes(profile("CCBB BBBB BB"));
        let stored = serde_json::to_value(&evaluation).unwrap();
        assert_eq!(stored["variables"]["coherence"], json!("C"));
        assert_eq!(AggirEvaluation::parse(&stored).unwrap(), evaluation);
        assert_eq!(evaluation.gir(), GirResult { gir: 2, group: Group::A, rank: 3 });
    }

    #[test]
    fn reports_every_bad_field() {
        let body = json!({
            "variables": {
                "coherence": "D",
                "orientation": {"temps": "A"},
                "toilette": {"haut": "A", "bas": {"spontaneously": true, "totally": true, "correctly": true}},
                "habillage": {"haut": "A", "moyen": "A", "bas": "A", "milieu": "A"},
                "alimentation": {"spontaneously": true, "se_servir": "A", "manger": "A"},
                "elimination": {},
                "transferts": {"spontaneously": true, "totally": true, "correctly": true, "habitually": "yes"},
                "deplacement_interieur": 2,
                "deplacement_exterieur": {"spontaneously": true, "totally": true, "correctly": true, "habitually": true, "quickly": true},
                "mobilite": "A"
            },
            "illustrative": {"gestion": "Z", "jardinage": "A"},
            "gir": 4
        });
        let errors = AggirEvaluation::parse(&body).unwrap_err();
        assert_eq!(
            error_fields(&errors),
            vec![
                ("variables.coherence", "must be A, B or C, or the four adverbs"),
                ("variables.orientation.espace", "is missing"),
                ("variables.toilette.bas.habitually", "is missing"),
                ("variables.habillage.milieu", "is not a sub-variable of habillage (haut, moyen, bas)"),
                ("variables.alimentation", "mixes adverbs and sub-variables"),
                ("variables.elimination", "must be A, B or C, the four adverbs, or the sub-variables urinaire, fecale"),
                ("variables.transferts.habitually", "must be true or false"),
                ("variables.deplacement_interieur", "must be A, B or C, or the four adverbs"),
                (
                    "variables.deplacement_exterieur.quickly",
                    "is not an adverb (spontaneously, totally, correctly, habitually)"
                ),
                ("variables.alerter", "is missing"),
                ("variables.mobilite", "is not an AGGIR variable"),
                ("illustrative.gestion", "must be A, B or C, or the four adverbs"),
                ("illustrative.jardinage", "is not an AGGIR illustrative variable"),
                ("gir", "is not expected"),
            ]
        );
    }

    #[test]
    fn rejects_bad_shapes() {
        let every_variable_missing =
            Variable::ALL.iter().map(|variable| (format!("variables.{variable}"), "is missing"));
        let cases: Vec<(Value, Vec<(String, &str)>)> = vec![
            (json!([]), vec![("body".to_owned(), "must be an object")]),
            (json!({}), vec![("variables".to_owned(), "is missing")]),
            (json!({"variables": ["A"]}), vec![("variables".to_owned(), "must be an object")]),
            (
                json!({"variables": {}, "illustrative": "A"}),
                every_variable_missing.chain([("illustrative".to_owned(), "must be an object")]).collect(),
            ),
        ];
        for (body, expected) in cases {
            let errors = AggirEvaluation::parse(&body).unwrap_err();
            let got: Vec<(String, &str)> =
                errors.errors().iter().map(|e| (e.field.clone(), e.message.as_str())).collect();
            assert_eq!(got, expected, "{body}");
        }
        // Nested under a root, the paths start with it.
        let errors = AggirEvaluation::parse_at(&json!({"variables": {"toilette": "Z"}}), Some("answers")).unwrap_err();
        assert_eq!(errors.errors()[2].field, "answers.variables.toilette");
        assert_eq!(AggirEvaluation::parse_at(&json!(null), Some("answers")).unwrap_err().errors()[0].field, "answers");
    }
}
