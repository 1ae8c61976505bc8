//! Role statements: CREATE ROLE / CREATE USER, ALTER ROLE / ALTER USER
//! (attributes, PASSWORD, RENAME TO), DROP ROLE / DROP USER [IF EXISTS],
//! over the roles in the catalog (`catalog::role`), in the session's
//! transaction, with PostgreSQL 15's checks, SQLSTATEs and notices.
//!
//! ```text
//!  CREATE USER bob PASSWORD 'pw'      (parse.rs: read as CREATE ROLE … with LOGIN by default)
//!    └─ may the current role create roles?  superuser, or CREATEROLE (42501)
//!    └─ name reserved? public, none, pg_* (42939)
//!    └─ catalog 'R'(bob): LOGIN, SCRAM-SHA-256 verifier of 'pw' (never 'pw')
//! ```
//!
//! | statement | checks | errors |
//! |---|---|---|
//! | CREATE ROLE | superuser or CREATEROLE; SUPERUSER/REPLICATION/BYPASSRLS need superuser | 42710 exists, 42939 reserved, 42501 |
//! | ALTER ROLE … options | superuser or CREATEROLE (a role may change its own password); a superuser target needs superuser | 42704 missing, 42501 |
//! | ALTER ROLE … RENAME TO | as above; not the session user (0A000) | 42704, 42710, 42939 |
//! | DROP ROLE [IF EXISTS] | as above; not the current or session user (55006) | 42704, or NOTICE with IF EXISTS |
//!
//! Privileges come from the current user's role. A database that has no
//! role at all (an embedded database never served) has no one to check
//! against, so there every session may manage roles.
//!
//! Not supported (0A000, named): CONNECTION LIMIT, VALID UNTIL, IN ROLE /
//! ROLE / ADMIN (membership), ALTER ROLE … SET / RESET.

use sqlparser::ast::{self, Statement};
use sqlparser::tokenizer::{Location, Token, Tokenizer, Word};

use crate::catalog::role::{RoleDef, StoredPassword};
use crate::catalog::{Catalog, CatalogError};
use crate::db::StatementResult;
use crate::error::{Error, Result, SqlState};
use crate::txn::Transaction;

use super::signals::{self, Notice};

/// SQLSTATE 42939: a reserved name.
const RESERVED_NAME: SqlState = SqlState("42939");
/// SQLSTATE 55006: the object is in use.
const OBJECT_IN_USE: SqlState = SqlState("55006");

/// Whether `stmt` is one of the statements this module runs.
pub fn is_role_statement(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::CreateRole(_)
            | Statement::AlterRole { .. }
            | Statement::Drop {
                object_type: ast::ObjectType::Role | ast::ObjectType::User,
                ..
            }
    )
}

fn tag(t: &str) -> StatementResult {
    StatementResult {
        columns: Vec::new(),
        rows: Vec::new(),
        tag: t.to_owned(),
    }
}

fn permission_denied(message: &str) -> Error {
    Error::new(SqlState::INSUFFICIENT_PRIVILEGE, message)
}

/// What the current user may do to roles.
struct Actor {
    /// `None`: the database has no roles (no one to check against).
    role: Option<RoleDef>,
    name: String,
}

impl Actor {
    fn load(catalog: &Catalog, txn: &mut Transaction, name: &str) -> Result<Actor> {
        let role = catalog.role(txn, name)?;
        if role.is_none() && !catalog.roles(txn)?.is_empty() {
            // The session's role is gone (dropped by another session):
            // it may do nothing a privilege is needed for.
            let mut nobody = RoleDef::new(name);
            nobody.inherit = false;
            return Ok(Actor {
                role: Some(nobody),
                name: name.to_owned(),
            });
        }
        Ok(Actor {
            role,
            name: name.to_owned(),
        })
    }

    fn is_superuser(&self) -> bool {
        self.role.as_ref().is_none_or(|r| r.superuser)
    }

    fn may_manage_roles(&self) -> bool {
        self.role
            .as_ref()
            .is_none_or(|r| r.superuser || r.create_role)
    }
}

/// 42939 for names PostgreSQL reserves.
fn check_name(name: &str) -> Result<()> {
    if matches!(name, "public" | "none") {
        return Err(Error::new(
            RESERVED_NAME,
            format!("role name \"{name}\" is reserved"),
        ));
    }
    if name.starts_with("pg_") {
        return Err(
            Error::new(RESERVED_NAME, format!("role name \"{name}\" is reserved"))
                .with_detail("Role names starting with \"pg_\" are reserved."),
        );
    }
    Ok(())
}

fn role_name(name: &ast::ObjectName) -> Result<String> {
    match super::bind::object_name(name).as_slice() {
        [n] => Ok(n.clone()),
        _ => Err(Error::new(
            SqlState::SYNTAX_ERROR,
            format!("syntax error at or near \"{name}\""),
        )),
    }
}

/// The stored form of a PASSWORD clause (`None` clears the password). An
/// empty string clears it too, with PostgreSQL's notice.
fn password(p: &ast::Password) -> Result<Option<StoredPassword>> {
    let text = match p {
        ast::Password::NullPassword => return Ok(None),
        ast::Password::Password(ast::Expr::Value(v)) => match &v.value {
            ast::Value::SingleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s)
            | ast::Value::NationalStringLiteral(s) => s.clone(),
            ast::Value::DollarQuotedString(d) => d.value.clone(),
            ast::Value::Null => return Ok(None),
            other => {
                return Err(Error::new(
                    SqlState::SYNTAX_ERROR,
                    format!("syntax error at or near \"{other}\""),
                ));
            }
        },
        ast::Password::Password(other) => {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                format!("syntax error at or near \"{other}\""),
            ));
        }
    };
    if text.is_empty() {
        signals::notice(Notice::new(
            "empty string is not a valid password, clearing password",
        ));
        return Ok(None);
    }
    Ok(Some(StoredPassword::from_sql(&text)?))
}

/// Role attributes a statement sets; `None` leaves one as it is.
#[derive(Default)]
struct Attributes {
    superuser: Option<bool>,
    login: Option<bool>,
    create_db: Option<bool>,
    create_role: Option<bool>,
    inherit: Option<bool>,
    replication: Option<bool>,
    bypass_rls: Option<bool>,
    /// `Some(None)`: clear the password.
    password: Option<Option<StoredPassword>>,
}

impl Attributes {
    fn apply(&self, r: &mut RoleDef) {
        let set = |field: &mut bool, v: Option<bool>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut r.superuser, self.superuser);
        set(&mut r.login, self.login);
        set(&mut r.create_db, self.create_db);
        set(&mut r.create_role, self.create_role);
        set(&mut r.inherit, self.inherit);
        set(&mut r.replication, self.replication);
        set(&mut r.bypass_rls, self.bypass_rls);
        if let Some(p) = &self.password {
            r.password = p.clone();
        }
    }

    /// Whether only superusers may set these (PostgreSQL 15's rule).
    fn needs_superuser(&self) -> bool {
        self.superuser.is_some() || self.replication.is_some() || self.bypass_rls.is_some()
    }

    /// Whether the statement changes nothing but the password.
    fn only_password(&self) -> bool {
        self.password.is_some()
            && [
                self.superuser,
                self.login,
                self.create_db,
                self.create_role,
                self.inherit,
                self.replication,
                self.bypass_rls,
            ]
            .iter()
            .all(Option::is_none)
    }
}

fn unsupported_option(what: &str) -> Error {
    Error::unsupported(format!("{what} for roles"))
}

fn attributes_of_create(c: &ast::CreateRole) -> Result<Attributes> {
    if c.connection_limit.is_some() {
        return Err(unsupported_option("CONNECTION LIMIT"));
    }
    if c.valid_until.is_some() {
        return Err(unsupported_option("VALID UNTIL"));
    }
    if !c.in_role.is_empty() || !c.in_group.is_empty() {
        return Err(unsupported_option("IN ROLE"));
    }
    if !c.role.is_empty() || !c.user.is_empty() || !c.admin.is_empty() {
        return Err(unsupported_option("ROLE and ADMIN (membership)"));
    }
    if c.authorization_owner.is_some() {
        return Err(unsupported_option("AUTHORIZATION"));
    }
    Ok(Attributes {
        superuser: c.superuser,
        login: c.login,
        create_db: c.create_db,
        create_role: c.create_role,
        inherit: c.inherit,
        replication: c.replication,
        bypass_rls: c.bypassrls,
        password: c.password.as_ref().map(password).transpose()?,
    })
}

fn attributes_of_options(options: &[ast::RoleOption]) -> Result<Attributes> {
    let mut a = Attributes::default();
    for o in options {
        match o {
            ast::RoleOption::BypassRLS(v) => a.bypass_rls = Some(*v),
            ast::RoleOption::CreateDB(v) => a.create_db = Some(*v),
            ast::RoleOption::CreateRole(v) => a.create_role = Some(*v),
            ast::RoleOption::Inherit(v) => a.inherit = Some(*v),
            ast::RoleOption::Login(v) => a.login = Some(*v),
            ast::RoleOption::Replication(v) => a.replication = Some(*v),
            ast::RoleOption::SuperUser(v) => a.superuser = Some(*v),
            ast::RoleOption::Password(p) => a.password = Some(password(p)?),
            ast::RoleOption::ConnectionLimit(_) => {
                return Err(unsupported_option("CONNECTION LIMIT"));
            }
            ast::RoleOption::ValidUntil(_) => return Err(unsupported_option("VALID UNTIL")),
        }
    }
    Ok(a)
}

/// Runs a role statement in the session's transaction as its current user.
pub fn run(cx: &super::session::StmtCx<'_>, stmt: &Statement) -> Result<StatementResult> {
    let kind = match stmt {
        Statement::CreateRole(_) => "CREATE ROLE",
        Statement::AlterRole { .. } => "ALTER ROLE",
        _ => "DROP ROLE",
    };
    cx.check_writable(kind)?;
    let user = (cx.settings)("session_authorization")?;
    let mut txn = super::scan::lock_txn(cx.txn)?;
    execute(cx.shared.catalog(), &mut txn, &user, stmt)
}

/// Runs a role statement ([`is_role_statement`]) in `txn` as `current_user`.
pub fn execute(
    catalog: &Catalog,
    txn: &mut Transaction,
    current_user: &str,
    stmt: &Statement,
) -> Result<StatementResult> {
    let actor = Actor::load(catalog, txn, current_user)?;
    match stmt {
        Statement::CreateRole(c) => create(catalog, txn, &actor, c),
        Statement::AlterRole { name, operation } => alter(
            catalog,
            txn,
            &actor,
            &super::bind::ident_name(name),
            operation,
        ),
        Statement::Drop {
            object_type: ast::ObjectType::Role | ast::ObjectType::User,
            if_exists,
            names,
            ..
        } => drop_roles(catalog, txn, &actor, *if_exists, names),
        other => Err(Error::internal(format!(
            "not a role statement: {}",
            other.to_string().split_whitespace().next().unwrap_or("")
        ))),
    }
}

fn create(
    catalog: &Catalog,
    txn: &mut Transaction,
    actor: &Actor,
    c: &ast::CreateRole,
) -> Result<StatementResult> {
    let [name] = c.names.as_slice() else {
        return Err(Error::new(
            SqlState::SYNTAX_ERROR,
            "syntax error at or near \",\"",
        ));
    };
    if c.if_not_exists {
        return Err(Error::new(
            SqlState::SYNTAX_ERROR,
            "syntax error at or near \"NOT\"",
        ));
    }
    let name = role_name(name)?;
    let attrs = attributes_of_create(c)?;
    if attrs.superuser == Some(true) && !actor.is_superuser() {
        return Err(permission_denied("must be superuser to create superusers"));
    }
    if (attrs.replication == Some(true) || attrs.bypass_rls == Some(true)) && !actor.is_superuser()
    {
        return Err(permission_denied(
            "must be superuser to create replication users",
        ));
    }
    if !actor.may_manage_roles() {
        return Err(permission_denied("permission denied to create role"));
    }
    check_name(&name)?;
    let mut role = RoleDef::new(&name);
    attrs.apply(&mut role);
    catalog.create_role(txn, role)?;
    Ok(tag("CREATE ROLE"))
}

/// The target of ALTER/DROP, with PostgreSQL's privilege rule for it.
fn target(catalog: &Catalog, txn: &mut Transaction, name: &str) -> Result<RoleDef> {
    catalog
        .role(txn, name)?
        .ok_or_else(|| CatalogError::UndefinedRole(name.to_owned()).into())
}

fn alter(
    catalog: &Catalog,
    txn: &mut Transaction,
    actor: &Actor,
    name: &str,
    operation: &ast::AlterRoleOperation,
) -> Result<StatementResult> {
    match operation {
        ast::AlterRoleOperation::RenameRole { role_name: to } => {
            let to = super::bind::ident_name(to);
            let role = target(catalog, txn, name)?;
            if name == actor.name {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "session user cannot be renamed",
                ));
            }
            if role.superuser && !actor.is_superuser() {
                return Err(permission_denied("must be superuser to rename superusers"));
            }
            if !actor.may_manage_roles() {
                return Err(permission_denied("permission denied to rename role"));
            }
            check_name(&to)?;
            let mut renamed = catalog.rename_role(txn, name, &to)?;
            // md5 hashes include the name: PostgreSQL drops them on rename.
            if matches!(renamed.password, Some(StoredPassword::Md5(_))) {
                txn.begin_statement()?;
                renamed.password = None;
                catalog.update_role(txn, &renamed)?;
                signals::notice(Notice::new("MD5 password cleared because of role rename"));
            }
            Ok(tag("ALTER ROLE"))
        }
        ast::AlterRoleOperation::WithOptions { options } => {
            let attrs = attributes_of_options(options)?;
            let mut role = target(catalog, txn, name)?;
            let own_password = name == actor.name && attrs.only_password();
            if (role.superuser || attrs.needs_superuser()) && !actor.is_superuser() {
                return Err(permission_denied(
                    "must be superuser to alter superuser roles or change superuser attribute",
                ));
            }
            if !own_password && !actor.may_manage_roles() {
                return Err(permission_denied("permission denied"));
            }
            attrs.apply(&mut role);
            catalog.update_role(txn, &role)?;
            Ok(tag("ALTER ROLE"))
        }
        ast::AlterRoleOperation::Set { .. } => Err(Error::unsupported("ALTER ROLE … SET")),
        ast::AlterRoleOperation::Reset { .. } => Err(Error::unsupported("ALTER ROLE … RESET")),
        ast::AlterRoleOperation::AddMember { .. } | ast::AlterRoleOperation::DropMember { .. } => {
            Err(Error::unsupported("ALTER ROLE … ADD/DROP MEMBER"))
        }
    }
}

fn drop_roles(
    catalog: &Catalog,
    txn: &mut Transaction,
    actor: &Actor,
    if_exists: bool,
    names: &[ast::ObjectName],
) -> Result<StatementResult> {
    if !actor.may_manage_roles() {
        return Err(permission_denied("permission denied to drop role"));
    }
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            // Each name sees the drops before it (DROP ROLE a, a fails).
            txn.begin_statement()?;
        }
        let name = role_name(n)?;
        let Some(role) = catalog.role(txn, &name)? else {
            if if_exists {
                signals::notice(Notice::new(format!(
                    "role \"{name}\" does not exist, skipping"
                )));
                continue;
            }
            return Err(CatalogError::UndefinedRole(name).into());
        };
        if name == actor.name {
            return Err(Error::new(OBJECT_IN_USE, "current user cannot be dropped"));
        }
        if role.superuser && !actor.is_superuser() {
            return Err(permission_denied("must be superuser to drop superusers"));
        }
        catalog.drop_role(txn, &name)?;
    }
    Ok(tag("DROP ROLE"))
}

/// `CREATE USER` as sqlparser's PostgreSQL dialect cannot read it (it
/// parses Snowflake's form): the same text with `USER` read as `ROLE`, and
/// where each such statement's role name starts, so [`mark_users`] can give
/// it LOGIN by default (`CREATE USER` is `CREATE ROLE … LOGIN`).
pub struct CreateUserRewrite {
    pub sql: String,
    names_at: Vec<Location>,
}

/// Finds `CREATE USER` at the start of statements in `sql`; `None` if there
/// is none (the common case, found without tokenizing when `sql` has no
/// "user" at all). The rewrite keeps every character position.
pub fn rewrite_create_user(sql: &str) -> Option<CreateUserRewrite> {
    if !sql
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"user"))
    {
        return None;
    }
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .ok()?;
    let mut words = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)));
    let mut at_start = true;
    let mut user_at = Vec::new();
    let mut names_at = Vec::new();
    while let Some(t) = words.next() {
        let is_word = |t: &Token, kw: &str| matches!(t, Token::Word(Word { value, quote_style: None, .. }) if value.eq_ignore_ascii_case(kw));
        if at_start && is_word(&t.token, "create") {
            let mut rest = words.clone();
            if let Some(u) = rest.next()
                && is_word(&u.token, "user")
            {
                user_at.push(u.span.start);
                if let Some(name) = rest.next() {
                    names_at.push(name.span.start);
                }
            }
        }
        at_start = matches!(t.token, Token::SemiColon);
    }
    if user_at.is_empty() {
        return None;
    }
    let mut chars: Vec<char> = sql.chars().collect();
    for loc in user_at {
        let Some(pos) = super::parse::char_position(sql, loc) else {
            continue;
        };
        let start = pos as usize - 1;
        if let Some(word) = chars.get_mut(start..start + 4) {
            word.copy_from_slice(&['R', 'O', 'L', 'E']);
        }
    }
    Some(CreateUserRewrite {
        sql: chars.into_iter().collect(),
        names_at,
    })
}

impl CreateUserRewrite {
    /// Gives the statements that were `CREATE USER` LOGIN unless they say
    /// NOLOGIN.
    pub fn mark_users(&self, statements: &mut [Statement]) {
        for stmt in statements {
            if let Statement::CreateRole(c) = stmt {
                let starts = c
                    .names
                    .first()
                    .and_then(|n| n.0.first())
                    .and_then(|p| p.as_ident())
                    .map(|id| id.span.start);
                if starts.is_some_and(|s| self.names_at.contains(&s)) && c.login.is_none() {
                    c.login = Some(true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::open::Stack;
    use crate::txn::{IsolationLevel, TxnOptions};

    use crate::sql::parse::parse;

    struct Db {
        stack: Stack,
        catalog: Catalog,
    }

    impl Db {
        fn new() -> Db {
            let stack = Stack::in_memory(64).unwrap();
            let catalog = Catalog::open(&stack).unwrap();
            Db { stack, catalog }
        }

        /// Runs `sql` as `user` in one transaction, committed if it worked.
        fn run(&self, user: &str, sql: &str) -> Result<Vec<StatementResult>> {
            let mut txn = self
                .stack
                .txns
                .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
                .unwrap();
            let mut out = Vec::new();
            for stmt in parse(sql)? {
                assert!(is_role_statement(&stmt), "{stmt}");
                txn.begin_statement().unwrap();
                match execute(&self.catalog, &mut txn, user, &stmt) {
                    Ok(r) => out.push(r),
                    Err(e) => {
                        txn.rollback().unwrap();
                        return Err(e);
                    }
                }
            }
            txn.commit().unwrap();
            Ok(out)
        }

        fn role(&self, name: &str) -> Option<RoleDef> {
            crate::catalog::role::lookup_role(&self.stack, name).unwrap()
        }
    }

    fn code(r: Result<Vec<StatementResult>>) -> (String, String) {
        let e = r.unwrap_err();
        (e.sqlstate.code().to_owned(), e.message)
    }

    #[test]
    fn create_user_is_create_role_with_login_and_keeps_positions() {
        let sql = "create user bob password 'pw'; CREATE ROLE r; CREATE USER \"Quiet\" NOLOGIN";
        let r = rewrite_create_user(sql).unwrap();
        assert_eq!(r.sql.len(), sql.len());
        assert!(r.sql.starts_with("create ROLE bob"));
        let stmts = parse(sql).unwrap();
        let logins: Vec<Option<bool>> = stmts
            .iter()
            .map(|s| match s {
                Statement::CreateRole(c) => c.login,
                _ => panic!("{s}"),
            })
            .collect();
        assert_eq!(logins, [Some(true), None, Some(false)]);
        assert!(rewrite_create_user("SELECT 'create user'").is_none());
        assert!(rewrite_create_user("SELECT 1").is_none());
        // A syntax error still points at the right character.
        let e = parse("CREATE USER bob FROBNICATE").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::SYNTAX_ERROR);
        assert_eq!(e.position, Some(17));
    }

    #[test]
    fn roles_are_created_altered_renamed_and_dropped_as_in_postgres() {
        let db = Db::new();
        // No role yet: the embedded session may create the first ones.
        db.run("postgres", "CREATE ROLE postgres SUPERUSER LOGIN")
            .unwrap();
        let r = db
            .run(
                "postgres",
                "CREATE USER bob PASSWORD 'pw'; CREATE ROLE team NOLOGIN CREATEDB",
            )
            .unwrap();
        assert_eq!(r[0].tag, "CREATE ROLE");
        let bob = db.role("bob").unwrap();
        assert!(bob.login && !bob.superuser && bob.inherit);
        match &bob.password {
            Some(StoredPassword::Scram(v)) => assert!(v.matches("pw")),
            other => panic!("{other:?}"),
        }
        assert!(db.role("team").unwrap().create_db);
        assert_eq!(
            code(db.run("postgres", "CREATE ROLE bob")),
            ("42710".into(), "role \"bob\" already exists".into())
        );
        assert_eq!(code(db.run("postgres", "CREATE ROLE pg_x")).0, "42939");
        assert_eq!(code(db.run("postgres", "CREATE ROLE public")).0, "42939");
        assert_eq!(
            code(db.run("postgres", "CREATE ROLE r CONNECTION LIMIT 3")).0,
            "0A000"
        );

        db.run("postgres", "ALTER ROLE bob WITH PASSWORD 'new' CREATEROLE")
            .unwrap();
        let bob = db.role("bob").unwrap();
        assert!(bob.create_role);
        assert!(matches!(&bob.password, Some(StoredPassword::Scram(v)) if v.matches("new")));
        db.run("postgres", "ALTER USER bob PASSWORD NULL").unwrap();
        assert_eq!(db.role("bob").unwrap().password, None);
        assert_eq!(
            code(db.run("postgres", "ALTER ROLE ghost LOGIN")),
            ("42704".into(), "role \"ghost\" does not exist".into())
        );

        db.run("postgres", "ALTER ROLE team RENAME TO crew")
            .unwrap();
        assert!(db.role("team").is_none() && db.role("crew").is_some());
        assert_eq!(
            code(db.run("postgres", "ALTER ROLE crew RENAME TO bob")).0,
            "42710"
        );
        assert_eq!(
            code(db.run("postgres", "ALTER ROLE postgres RENAME TO boss")),
            ("0A000".into(), "session user cannot be renamed".into())
        );

        assert_eq!(
            code(db.run("postgres", "DROP ROLE postgres")),
            ("55006".into(), "current user cannot be dropped".into())
        );
        assert_eq!(
            code(db.run("postgres", "DROP ROLE crew, crew")),
            ("42704".into(), "role \"crew\" does not exist".into())
        );
        assert!(
            db.role("crew").is_some(),
            "the failed statement rolled back"
        );
        let signals = std::sync::Arc::new(signals::SessionSignals::new());
        {
            let _scope = signals::enter(signals.clone(), None);
            let r = db
                .run("postgres", "DROP ROLE IF EXISTS ghost, crew")
                .unwrap();
            assert_eq!(r[0].tag, "DROP ROLE");
        }
        let notices = signals.take_notices();
        assert_eq!(notices.len(), 1);
        assert_eq!(
            notices[0].message,
            "role \"ghost\" does not exist, skipping"
        );
        assert_eq!(notices[0].sqlstate, SqlState::SUCCESSFUL_COMPLETION);
        assert!(db.role("crew").is_none());
    }

    #[test]
    fn privileges_follow_the_current_role() {
        let db = Db::new();
        db.run(
            "admin",
            "CREATE ROLE admin SUPERUSER LOGIN; CREATE USER clerk; CREATE USER hr CREATEROLE",
        )
        .unwrap();
        let denied = |user: &str, sql: &str| code(db.run(user, sql)).0;
        assert_eq!(denied("clerk", "CREATE ROLE x"), "42501");
        assert_eq!(denied("clerk", "DROP ROLE hr"), "42501");
        assert_eq!(denied("clerk", "ALTER ROLE hr LOGIN"), "42501");
        // A role may change its own password, and nothing else.
        db.run("clerk", "ALTER ROLE clerk PASSWORD 'mine'").unwrap();
        assert_eq!(denied("clerk", "ALTER ROLE clerk CREATEDB"), "42501");
        // CREATEROLE manages ordinary roles, never superusers.
        db.run("hr", "CREATE ROLE temp; DROP ROLE temp").unwrap();
        assert_eq!(
            code(db.run("hr", "CREATE ROLE boss SUPERUSER")),
            (
                "42501".into(),
                "must be superuser to create superusers".into()
            )
        );
        assert_eq!(denied("hr", "DROP ROLE admin"), "42501");
        assert_eq!(denied("hr", "ALTER ROLE admin PASSWORD 'x'"), "42501");
        // A session whose role is gone may do nothing.
        assert_eq!(denied("ghost", "CREATE ROLE x"), "42501");
    }

    #[test]
    fn an_empty_password_clears_it_with_a_notice_and_md5_goes_on_rename() {
        let db = Db::new();
        let signals = std::sync::Arc::new(signals::SessionSignals::new());
        let _scope = signals::enter(signals.clone(), None);
        db.run(
            "admin",
            "CREATE ROLE admin SUPERUSER; CREATE ROLE m PASSWORD 'md5e5e28ae3ac3ce6ebc7f8e4c2a4c9d5a1'; CREATE ROLE e PASSWORD ''",
        )
        .unwrap();
        assert!(matches!(
            db.role("m").unwrap().password,
            Some(StoredPassword::Md5(_))
        ));
        assert_eq!(db.role("e").unwrap().password, None);
        db.run("admin", "ALTER ROLE m RENAME TO m2").unwrap();
        assert_eq!(db.role("m2").unwrap().password, None);
        let messages: Vec<String> = signals
            .take_notices()
            .into_iter()
            .map(|n| n.message)
            .collect();
        assert_eq!(
            messages,
            [
                "empty string is not a valid password, clearing password",
                "MD5 password cleared because of role rename"
            ]
        );
    }
}
