//! Documents handed to the people supported and their families, as PDF files.
//!
//! The only document so far is a version of the projet personnalisé ([`render_plan`]), written
//! as PDF/A-2b ([`pdfa`]) so that it can be archived with the record. Text is set in DejaVu Sans,
//! shipped inside the binary ([`font`]): every character a record may hold that the font draws
//! is printed as written ([`text`]), measured with the font's own advances and wrapped here
//! ([`layout`]), then flowed onto A4 pages with a header and a footer ([`flow`]). The PDF embeds
//! the subset of the fonts the document uses, with what a reader needs to extract the text back
//! ([`embed`]). Content streams are left uncompressed. The output depends on the input only: no
//! clock, no random identifiers.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use dui_domain::UserId;
use dui_domain::care_plan::{
    Action, ObjectiveDomain, ObjectiveStatus, PlanStatus, PlanVersion, ValidatedBy, ValidationMethod,
};
use dui_domain::people::Role;
use dui_domain::resident::Identity;

mod embed;
mod flow;
mod font;
mod layout;
mod pdf;
mod pdfa;
mod text;

use flow::{BODY, BODY_BOLD, Flow, NOTE, TITLE};

/// A version of a projet personnalisé, with what it takes to print it for the person and their
/// family.
#[derive(Debug)]
pub struct PlanDocument<'a> {
    pub establishment_name: &'a str,
    /// Names and birth date shown at the top.
    pub person: &'a Identity,
    pub plan: &'a PlanVersion,
    /// Names of the professionals referred to by user id in actions (missing → "un
    /// professionnel").
    pub professionals: &'a HashMap<UserId, String>,
    /// When the document is produced (shown in the footer; the caller passes it: no clock here).
    pub printed_at: DateTime<Utc>,
}

/// dd/mm/yyyy.
fn date(day: NaiveDate) -> String {
    format!("{:02}/{:02}/{:04}", day.day(), day.month(), day.year())
}

fn plan_status(status: PlanStatus) -> &'static str {
    match status {
        PlanStatus::Draft => "brouillon",
        PlanStatus::Active => "en vigueur",
        PlanStatus::Superseded => "remplacé",
        PlanStatus::Closed => "clos",
    }
}

fn domain(domain: ObjectiveDomain) -> &'static str {
    match domain {
        ObjectiveDomain::Health => "Santé",
        ObjectiveDomain::Autonomy => "Autonomie",
        ObjectiveDomain::DailyLife => "Vie quotidienne",
        ObjectiveDomain::SocialLife => "Vie sociale",
        ObjectiveDomain::FamilyAndRelationships => "Famille et relations",
        ObjectiveDomain::Safety => "Sécurité",
        ObjectiveDomain::Rights => "Droits",
        ObjectiveDomain::Other => "Autres",
    }
}

fn objective_status(status: ObjectiveStatus) -> &'static str {
    match status {
        ObjectiveStatus::Planned => "prévu",
        ObjectiveStatus::InProgress => "en cours",
        ObjectiveStatus::Achieved => "atteint",
        ObjectiveStatus::PartlyAchieved => "partiellement atteint",
        ObjectiveStatus::NotAchieved => "non atteint",
        ObjectiveStatus::Abandoned => "abandonné",
    }
}

fn role(role: Role) -> &'static str {
    match role {
        Role::TenantAdmin => "Administration",
        Role::Director => "Direction",
        Role::CoordinatingPhysician => "Médecin coordonnateur",
        Role::Nurse => "Infirmier(ère)",
        Role::CareAssistant => "Aide-soignant(e) ou accompagnant(e) éducatif et social",
        Role::Psychologist => "Psychologue",
        Role::SocialWorker => "Travailleur(se) social(e)",
        Role::Educator => "Éducateur(trice)",
        Role::HomeHelper => "Auxiliaire de vie",
        Role::AdministrativeStaff => "Secrétariat et administration",
        Role::IdentityVigilance => "Référent(e) en identitovigilance",
    }
}

fn validated_by(by: ValidatedBy) -> &'static str {
    match by {
        ValidatedBy::Person => "par la personne",
        ValidatedBy::LegalRepresentative => "par son représentant légal",
    }
}

fn validation_method(method: ValidationMethod) -> &'static str {
    match method {
        ValidationMethod::Signature => "par signature",
        ValidationMethod::Oral => "oralement",
        ValidationMethod::Written => "par écrit",
    }
}

fn non_empty(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// "DUPONT Marie": the used name (or the birth name) in capitals, then the used first name (or
/// the first first name).
fn person_name(person: &Identity) -> String {
    let name = non_empty(person.used_name.as_ref()).unwrap_or(person.birth_name.trim());
    let first = non_empty(person.used_first_name.as_ref())
        .or(non_empty(person.first_first_name.as_ref()))
        .or(person.first_names.split_whitespace().next())
        .unwrap_or_default();
    format!("{} {first}", name.to_uppercase()).trim().to_owned()
}

/// Who carries an action out, in words.
fn performer(action: &Action, professionals: &HashMap<UserId, String>) -> String {
    let name = action.who.user_id.map(|id| non_empty(professionals.get(&id)).unwrap_or("un professionnel").to_owned());
    match (action.who.role.map(role), name) {
        (Some(role), Some(name)) => format!("{role} — {name}"),
        (Some(role), None) => role.to_owned(),
        (None, Some(name)) => name,
        (None, None) => "non précisé".to_owned(),
    }
}

fn period(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Option<String> {
    match (from, to) {
        (Some(from), Some(to)) => Some(format!("du {} au {}", date(from), date(to))),
        (Some(from), None) => Some(format!("à partir du {}", date(from))),
        (None, Some(to)) => Some(format!("jusqu’au {}", date(to))),
        (None, None) => None,
    }
}

const INDENT: f32 = 14.0;

/// The version of a projet personnalisé as a PDF file, in French, for the person and their
/// family. Never panics; the same document gives the same bytes.
pub fn render_plan(doc: &PlanDocument<'_>) -> Vec<u8> {
    let plan = doc.plan;
    let content = &plan.content;
    let name = person_name(doc.person);
    let mut flow = Flow::new();

    // Who and which version.
    if plan.status == PlanStatus::Draft {
        flow.banner("BROUILLON — document de travail");
    }
    flow.paragraph("Projet personnalisé", TITLE, 0.0);
    flow.space(6.0);
    flow.paragraph(&name, flow::SUBHEADING, 0.0);
    let birth_name = doc.person.birth_name.trim();
    if non_empty(doc.person.used_name.as_ref()).is_some_and(|used| !used.eq_ignore_ascii_case(birth_name)) {
        flow.labelled("Nom de naissance", &birth_name.to_uppercase(), 0.0);
    }
    flow.labelled("Date de naissance", &date(doc.person.birth_date), 0.0);
    flow.space(6.0);
    flow.labelled("Version", &format!("{} — {}", plan.version, plan_status(plan.status)), 0.0);
    flow.labelled("Établie le", &date(plan.created_at.date_naive()), 0.0);
    if let Some(activated) = plan.activated_at {
        flow.labelled("En vigueur depuis le", &date(activated.date_naive()), 0.0);
    }
    match (plan.status, plan.ended_at) {
        (PlanStatus::Superseded, Some(ended)) => flow.labelled("Remplacé le", &date(ended.date_naive()), 0.0),
        (PlanStatus::Closed, Some(ended)) => flow.labelled("Clos le", &date(ended.date_naive()), 0.0),
        _ => {}
    }
    if let Some(due) = plan.review_due_on
        && matches!(plan.status, PlanStatus::Draft | PlanStatus::Active)
    {
        flow.labelled("Prochaine réévaluation", &format!("au plus tard le {}", date(due)), 0.0);
    }

    flow.heading("Attentes de la personne");
    if content.expectations.trim().is_empty() {
        flow.paragraph("Non renseignées.", NOTE, 0.0);
    } else {
        flow.paragraph(content.expectations.trim(), BODY, 0.0);
    }

    flow.heading("Besoins identifiés");
    if content.needs.is_empty() {
        flow.paragraph("Aucun besoin renseigné.", NOTE, 0.0);
    }
    for &group in ObjectiveDomain::ALL {
        let mut needs = content.needs.iter().filter(|need| need.domain == group).peekable();
        if needs.peek().is_some() {
            flow.subheading(domain(group), 0.0);
            for need in needs {
                flow.bullet(need.text.trim(), BODY, INDENT / 2.0);
            }
        }
    }

    // Objectives are numbered in their order, for the actions and the review to refer to them.
    let mut numbers = HashMap::new();
    for (index, objective) in content.objectives.iter().enumerate() {
        if let Some(id) = objective.id {
            numbers.entry(id).or_insert(index + 1);
        }
    }
    flow.heading("Objectifs");
    if content.objectives.is_empty() {
        flow.paragraph("Aucun objectif renseigné.", NOTE, 0.0);
    }
    for (index, objective) in content.objectives.iter().enumerate() {
        flow.keep(5);
        flow.subheading(&format!("Objectif {}", index + 1), 0.0);
        flow.paragraph(objective.text.trim(), BODY, INDENT);
        flow.labelled("Domaine", domain(objective.domain), INDENT);
        let target = objective.target_date.map_or_else(|| "non fixée".to_owned(), date);
        flow.labelled("Échéance", &target, INDENT);
        flow.labelled("État", objective_status(objective.status), INDENT);
    }

    flow.heading("Actions et interventions");
    if content.actions.is_empty() {
        flow.paragraph("Aucune action renseignée.", NOTE, 0.0);
    }
    for action in &content.actions {
        let frequency = non_empty(action.frequency.as_ref());
        let period = period(action.from, action.to);
        let objective = action.objective_id.and_then(|id| numbers.get(&id));
        flow.keep(
            2 + usize::from(frequency.is_some()) + usize::from(period.is_some()) + usize::from(objective.is_some()),
        );
        flow.space(4.0);
        flow.bullet(action.what.trim(), BODY_BOLD, 0.0);
        flow.labelled("Qui", &performer(action, doc.professionals), INDENT);
        if let Some(frequency) = frequency {
            flow.labelled("Fréquence", frequency, INDENT);
        }
        if let Some(period) = period {
            flow.labelled("Période", &period, INDENT);
        }
        if let Some(number) = objective {
            flow.labelled("Pour", &format!("l’objectif {number}"), INDENT);
        }
    }

    if let Some(review) = &content.review {
        flow.heading("Bilan");
        flow.labelled("Date du bilan", &date(review.date), 0.0);
        let participants: Vec<&str> = review.participants.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect();
        let participants = if participants.is_empty() { "non précisés".to_owned() } else { participants.join(", ") };
        flow.labelled("Participants", &participants, 0.0);
        if !review.outcomes.is_empty() {
            flow.subheading("Résultats des objectifs", 0.0);
        }
        for outcome in &review.outcomes {
            let objective = numbers
                .get(&outcome.objective_id)
                .and_then(|&number| Some((number, content.objectives.get(number - 1)?)));
            let title = match objective {
                Some((number, objective)) => format!("Objectif {number}\u{A0}: {}", objective.text.trim()),
                None => "Objectif ne figurant plus dans ce projet".to_owned(),
            };
            flow.keep(2 + usize::from(outcome.comment.is_some()));
            flow.space(3.0);
            flow.bullet(&title, BODY, 0.0);
            flow.labelled("Résultat", objective_status(outcome.status), INDENT);
            if let Some(comment) = non_empty(outcome.comment.as_ref()) {
                flow.labelled("Commentaire", comment, INDENT);
            }
        }
        if let Some(summary) = non_empty(review.summary.as_ref()) {
            flow.subheading("Synthèse", 0.0);
            flow.paragraph(summary, BODY, 0.0);
        }
    }

    flow.heading("Validation");
    match &plan.validation {
        Some(validation) => {
            let who = validation.name.trim();
            let who = if who.is_empty() { String::new() } else { format!(", {who},") };
            flow.paragraph(
                &format!(
                    "Ce projet a été validé {}{who} le {}, {}.",
                    validated_by(validation.by),
                    date(validation.on),
                    validation_method(validation.method)
                ),
                BODY,
                0.0,
            );
        }
        None => flow.paragraph("Non encore validé.", BODY, 0.0),
    }

    let header_right =
        if plan.status == PlanStatus::Draft { "Projet personnalisé — brouillon" } else { "Projet personnalisé" };
    let frame = pdf::Frame {
        header_left: doc.establishment_name.trim().to_owned(),
        header_right: header_right.to_owned(),
        footer_left: format!("{name} — version {} — édité le {}", plan.version, date(doc.printed_at.date_naive())),
        title: "Projet personnalisé".to_owned(),
        created: doc.printed_at,
    };
    pdf::write(flow.finish(), &frame)
}
