//! French-looking people and notes: names, birth dates, valid test INS, note texts of realistic
//! lengths.

use chrono::NaiveDate;
use dui_domain::transmission::NoteContent;

use crate::rng::Rng;

pub const FAMILY: &[&str] = &[
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
    "Giraud",
    "Joly",
    "Rivière",
    "Lucas",
    "Brunet",
    "Gaillard",
    "Barbier",
    "Arnaud",
];

pub const WOMEN: &[&str] = &[
    "Marie",
    "Jeanne",
    "Marguerite",
    "Germaine",
    "Louise",
    "Yvonne",
    "Madeleine",
    "Suzanne",
    "Marcelle",
    "Denise",
    "Simone",
    "Paulette",
    "Odette",
    "Lucienne",
    "Andrée",
    "Renée",
    "Jacqueline",
    "Raymonde",
    "Georgette",
    "Colette",
    "Monique",
    "Ginette",
    "Henriette",
    "Yvette",
    "Gisèle",
    "Huguette",
    "Marie-Thérèse",
];

pub const MEN: &[&str] = &[
    "Jean",
    "Pierre",
    "André",
    "Louis",
    "René",
    "Marcel",
    "Roger",
    "Henri",
    "Georges",
    "Robert",
    "Paul",
    "Jacques",
    "Maurice",
    "Raymond",
    "Lucien",
    "Joseph",
    "Fernand",
    "Émile",
    "Albert",
    "Roland",
    "Bernard",
    "Gilbert",
    "Gaston",
    "Michel",
    "Jean-Pierre",
    "Guy",
    "Gérard",
];

/// One person: identity traits and a test INS (NIR with a valid key).
#[derive(Debug, Clone)]
pub struct Person {
    pub birth_name: String,
    pub first_names: String,
    pub female: bool,
    pub birth_date: NaiveDate,
    pub ins: String,
}

/// A person; `serial` makes the INS unique within a tenant.
pub fn person(rng: &mut Rng, serial: u32) -> Person {
    let female = rng.chance(0.68);
    let given = if female { WOMEN } else { MEN };
    let first = rng.pick(given);
    let second = rng.pick(given);
    let first_names =
        if rng.chance(0.6) && first != second { format!("{first} {second}") } else { (*first).to_owned() };
    let year = 1925 + rng.below(25) as i32;
    let month = 1 + rng.below(12) as u32;
    let day = 1 + rng.below(28) as u32;
    let birth_date = NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default();
    // NIR: sex, year, month, department (01-95 but 20), commune, order number, then the key.
    let department = {
        let d = 1 + rng.below(94);
        if d == 20 { 21 } else { d }
    };
    let commune = 1 + u64::from(serial / 999) % 990;
    let order = 1 + u64::from(serial % 999);
    let digits = format!(
        "{}{:02}{:02}{:02}{:03}{:03}",
        if female { 2 } else { 1 },
        year % 100,
        month,
        department,
        commune,
        order
    );
    let number: u64 = digits.parse().unwrap_or_default();
    let ins = format!("{digits}{:02}", 97 - number % 97);
    Person { birth_name: (*rng.pick(FAMILY)).to_owned(), first_names, female, birth_date, ins }
}

const OPENINGS: &[&str] = &[
    "Nuit calme, a dormi jusqu'à 6 h 30.",
    "Réveil agité vers 3 h, rassurée par l'équipe de nuit.",
    "Petit-déjeuner pris en entier, bonne hydratation.",
    "Refus de la toilette ce matin, reproposée à 10 h et acceptée.",
    "Visite de sa fille l'après-midi, très souriante.",
    "A participé à l'atelier mémoire avec plaisir.",
    "Se plaint de douleurs au genou droit au lever.",
    "Appétit diminué au déjeuner, a mangé la moitié du plat.",
    "Transit normal, pas de plainte particulière.",
    "Marche avec le déambulateur dans le couloir, sans difficulté.",
    "Somnolente en début d'après-midi, s'est reposée en chambre.",
    "Confusion en fin de journée, a cherché sa chambre à plusieurs reprises.",
];

const DETAILS: &[&str] = &[
    "Tension 13/8, pouls 72, température 36,8 °C.",
    "EVA à 4 au lever, 2 après l'antalgique de 8 h.",
    "Hydratation encouragée : 1,2 L bus sur la journée.",
    "Change effectué à 3 h et à 6 h, peau intègre.",
    "Pansement du talon refait, plaie propre, en voie de cicatrisation.",
    "Traitement du midi pris sans difficulté.",
    "Famille informée par téléphone de l'évolution.",
    "Kinésithérapeute passé à 15 h, séance de marche de 20 minutes.",
    "Surveillance du poids à poursuivre : 54,2 kg ce matin.",
    "Glycémie capillaire à 1,32 g/L avant le repas.",
    "Installée au fauteuil l'après-midi, coussin de positionnement en place.",
    "À revoir avec le médecin coordonnateur lors de sa prochaine visite.",
];

const TARGETS: &[&str] =
    &["Douleur", "Sommeil", "Alimentation", "Élimination", "Chute", "Comportement", "Hydratation", "Plaie", "Humeur"];

/// A note's content: free text of one to five sentences, or a transmission ciblée.
pub fn note_content(rng: &mut Rng, targeted: bool) -> NoteContent {
    let sentence = |rng: &mut Rng| -> String {
        if rng.chance(0.5) { (*rng.pick(OPENINGS)).to_owned() } else { (*rng.pick(DETAILS)).to_owned() }
    };
    if targeted {
        NoteContent {
            target: Some((*rng.pick(TARGETS)).to_owned()),
            data: Some(format!("{} {}", rng.pick(OPENINGS), rng.pick(DETAILS))),
            actions: Some((*rng.pick(DETAILS)).to_owned()),
            results: rng.chance(0.7).then(|| (*rng.pick(OPENINGS)).to_owned()),
            ..NoteContent::default()
        }
    } else {
        let sentences = 1 + rng.below(5) as usize;
        let text = (0..sentences).map(|_| sentence(rng)).collect::<Vec<_>>().join(" ");
        NoteContent { text: Some(text), ..NoteContent::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ins_has_a_valid_key_and_is_unique_in_a_tenant() {
        let mut rng = Rng::new(3);
        let mut seen = std::collections::HashSet::new();
        for serial in 0..3_000 {
            let p = person(&mut rng, serial);
            assert_eq!(dui_domain::resident::matricule(&p.ins), Ok(p.ins.clone()), "{}", p.ins);
            assert!(seen.insert(p.ins[7..13].to_owned()), "commune and order number are unique per serial");
        }
    }

    #[test]
    fn notes_have_realistic_lengths() {
        let mut rng = Rng::new(5);
        let lengths: Vec<usize> = (0..1_000)
            .map(|i| serde_json::to_string(&note_content(&mut rng, i % 3 == 0)).unwrap().chars().count())
            .collect();
        let mean = lengths.iter().sum::<usize>() / lengths.len();
        assert!(lengths.iter().all(|l| (40..1_000).contains(l)), "{lengths:?}");
        assert!((100..400).contains(&mean), "{mean}");
    }
}
