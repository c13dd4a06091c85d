//! The trace a statement writes of the access it does: an `INSERT INTO audit_events` in the
//! statement's own `WITH` clause, so the access and its trace commit together or not at all.
//!
//! A [`Trace`] says which rows the events are about; the action (`:action`, with its
//! `:resource_type`) is the caller's choice, bound with [`Args::action`](crate::sql::Args::action),
//! and the actor and the request come from `who` (see [`crate::access::WHO_CTE`]).

/// One event per row of a statement's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trace<'a> {
    /// What brings `who` and the rows into scope (`who, n, target`).
    pub from: &'a str,
    /// The resident each event is about (an SQL expression over `from`).
    pub resident: &'a str,
    /// The resource each event names.
    pub resource: &'a str,
    /// `'success'`, `'denied'`, or an expression choosing.
    pub outcome: &'a str,
    /// Whether the access went through an emergency opening.
    pub emergency: &'a str,
}

impl<'a> Trace<'a> {
    /// The rows a statement wrote about the resident of `target` (they have `resident_id` and
    /// `id`): one event each, flagged when the record was opened in an emergency.
    pub(crate) fn written(rows: &'a str) -> String {
        let (resident, resource) = (format!("{rows}.resident_id"), format!("{rows}.id"));
        Trace {
            from: &format!("who, {rows}, target"),
            resident: &resident,
            resource: &resource,
            outcome: "'success'",
            emergency: "NOT target.normal",
        }
        .sql()
    }

    /// A change of the resident of `target`, whose changed row is `changed`: one event, naming
    /// `resource`, flagged when the record was opened in an emergency.
    pub(crate) fn record_changed(resource: &'a str) -> String {
        Trace {
            from: "who, changed, target",
            resident: "changed.id",
            resource,
            outcome: "'success'",
            emergency: "NOT target.normal",
        }
        .sql()
    }

    /// A read of resident `:resident` through `target` (present only when visible): a success,
    /// or the refusal when the resident is out of reach.
    pub(crate) fn read() -> String {
        Trace {
            from: "who LEFT JOIN target ON true",
            resident: ":resident",
            resource: ":resident",
            outcome: "CASE WHEN target.id IS NULL THEN 'denied' ELSE 'success' END",
            emergency: "coalesce(NOT target.normal, false)",
        }
        .sql()
    }

    /// One read event per resident of a day's list (`d.resident_id` over `from`, which names the
    /// listed rows `d`): who was shown to the caller. Lists do not open records in an emergency.
    pub(crate) fn each_listed(from: &'a str) -> Self {
        Trace { from, resident: "d.resident_id", resource: "d.resident_id", outcome: "'success'", emergency: "false" }
    }

    /// The refusal of the action on resident `:resident`.
    pub(crate) fn denial() -> String {
        Trace { from: "who", resident: ":resident", resource: ":resident", outcome: "'denied'", emergency: "false" }
            .sql()
    }

    /// An administrative write: one event per row of `rows` (with an `id`), about no resident.
    pub(crate) fn administered(rows: &'a str) -> String {
        let resource = format!("{rows}.id");
        Trace {
            from: &format!("who, {rows}"),
            resident: "NULL::uuid",
            resource: &resource,
            outcome: "'success'",
            emergency: "false",
        }
        .sql()
    }

    /// The `INSERT` of events of `action`, whatever the statement's own (`:action`): for a
    /// statement that writes two kinds of rows (an appointment and the absence it makes), each
    /// with its event.
    pub(crate) fn sql_as(&self, action: dui_domain::audit::AuditAction) -> String {
        // Both are literals of the closed list of actions (lower-case letters, `_` and `.`).
        self.sql()
            .replace(":action::text", &format!("'{}'::text", action.as_str()))
            .replace(":resource_type::text", &format!("'{}'::text", action.resource_type()))
    }

    /// The `INSERT`, for a statement's `WITH` clause.
    pub(crate) fn sql(&self) -> String {
        let Trace { from, resident, resource, outcome, emergency } = self;
        format!(
            "INSERT INTO audit_events (tenant_id, id, actor_id, actor_kind, action, outcome, resident_id, resource_type, \
             resource_id, request_id, client_address, emergency) \
             SELECT who.tenant_id, dui_uuid_v7(), CASE WHEN who.console THEN NULL ELSE who.user_id END, \
               CASE WHEN who.console THEN 'console' ELSE 'user' END, :action::text, {outcome}, {resident}, \
               :resource_type::text, {resource}, who.request_id, who.client_address, {emergency} FROM {from}"
        )
    }
}

/// Whether a read is recorded in the audit trail, and as what. A person's reading is recorded;
/// a check an operation makes before deciding, or the parts of an operation that records itself
/// once, are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Recorded(dui_domain::audit::AuditAction),
    Unrecorded,
}

/// A read statement in its two forms: with its trace, and without.
#[derive(Debug)]
pub(crate) struct Variants {
    pub recorded: crate::sql::Stmt,
    pub unrecorded: crate::sql::Stmt,
}

impl Variants {
    /// The statement for `reading`, with `args` bound to its action when recorded.
    pub(crate) fn pick<'a>(
        &self,
        reading: Reading,
        args: crate::sql::Args<'a>,
    ) -> (&crate::sql::Sql, crate::sql::Args<'a>) {
        match reading {
            Reading::Recorded(action) => (&self.recorded, args.action(action)),
            Reading::Unrecorded => (&self.unrecorded, args),
        }
    }
}

impl Variants {
    /// The statement for `reading` when it ends its transaction: the one without the trace,
    /// with what records the read's events once it has answered ([`crate::trail`]; `trace`
    /// makes it from the action).
    pub(crate) fn pick_final<'a>(
        &self,
        reading: Reading,
        args: crate::sql::Args<'a>,
        trace: impl FnOnce(dui_domain::audit::AuditAction) -> crate::trail::ReadTrace,
    ) -> (&crate::sql::Sql, crate::sql::Args<'a>, Option<crate::trail::ReadTrace>) {
        match reading {
            Reading::Recorded(action) => (&self.unrecorded, args, Some(trace(action))),
            Reading::Unrecorded => (&self.unrecorded, args, None),
        }
    }
}

/// `trace AS (...)` for a recorded read of `target`, nothing otherwise: the `WITH` item to put
/// after a read's own.
pub(crate) fn read_trace(recorded: bool) -> String {
    if recorded { format!(", trace AS ({})", Trace::read()) } else { String::new() }
}
