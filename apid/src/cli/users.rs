//! `user add`, `user passwd`, `assign`, `unassign`, and the random secrets they need.

use std::io::{BufRead, Read};

use super::CliError;
use super::check::is_username;
use crate::model::{AccessLevel, Id, PasswordHash, Role, SiteAccess, User, UserStatus};
use crate::store::{StoreError, StoreResult};

/// bcrypt cost of every password apid writes (as Twoine).
pub const BCRYPT_COST: u32 = 12;
/// Shortest password accepted from standard input.
pub const MIN_PASSWORD_LEN: usize = 10;
const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// `n` bytes from the kernel's random source.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, CliError> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| CliError::Failed(format!("cannot read /dev/urandom: {e}")))?;
    Ok(buf)
}

/// A new JWT secret: 32 random bytes as 64 hex digits.
pub fn generate_secret() -> Result<String, CliError> {
    Ok(random_bytes(32)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A strong password: 20 characters from an unambiguous 57-letter alphabet (~116 bits).
pub fn generate_password() -> Result<String, CliError> {
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        for b in random_bytes(32)? {
            // Rejection sampling: no modulo bias.
            let limit = 256 - (256 % ALPHABET.len());
            if usize::from(b) < limit && out.len() < 20 {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

/// The password to set: from stdin's first line, or generated (then `true`: print it).
fn password(from_stdin: bool) -> Result<(String, bool), CliError> {
    if !from_stdin {
        return Ok((generate_password()?, true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Failed(format!("cannot read the password: {e}")))?;
    let pw = line.trim_end_matches(['\n', '\r']).to_owned();
    if pw.chars().count() < MIN_PASSWORD_LEN {
        return Err(CliError::Usage(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok((pw, false))
}

fn hash(pw: &str) -> Result<PasswordHash, CliError> {
    bcrypt::hash(pw, BCRYPT_COST)
        .map(PasswordHash)
        .map_err(|e| CliError::Failed(format!("cannot hash the password: {e}")))
}

fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(char::is_whitespace)
        && e.matches('@').count() == 1
        && e.len() <= 254
}

pub(super) async fn user_named(
    store: &dyn crate::store::Store,
    name: &str,
) -> Result<User, CliError> {
    match store.user_by_login(name).await? {
        Some(u) if u.username == name => Ok(u),
        _ => Err(CliError::Failed(format!("no user named {name}"))),
    }
}

fn conflict<T>(r: StoreResult<T>, what: impl FnOnce() -> String) -> Result<T, CliError> {
    r.map_err(|e| match e {
        StoreError::Conflict(_) => CliError::Failed(what()),
        other => other.into(),
    })
}

pub(super) async fn add(
    store: &dyn crate::store::Store,
    username: &str,
    email: &str,
    admin: bool,
    readonly: bool,
    from_stdin: bool,
) -> Result<(), CliError> {
    if !is_username(username) {
        return Err(CliError::Usage(format!(
            "invalid username {username:?}: 3 to 30 characters, a lowercase letter then \
             lowercase letters, digits, '_' or '-'"
        )));
    }
    if !valid_email(email) {
        return Err(CliError::Usage(format!("invalid e-mail address {email:?}")));
    }
    let role = match (admin, readonly) {
        (true, _) => Role::Admin,
        (false, true) => Role::Readonly,
        (false, false) => Role::User,
    };
    let (pw, generated) = password(from_stdin)?;
    let user = User {
        id: Id::generate(),
        username: username.to_owned(),
        email: email.to_lowercase(),
        password_hash: Some(hash(&pw)?),
        role,
        status: UserStatus::Active,
        sites: Vec::new(),
        failed_login_attempts: 0,
        lock_until: None,
        last_login_at: None,
        must_change_password: false,
    };
    conflict(store.create_user(&user).await, || {
        format!("a user named {username} or with the e-mail {email} already exists")
    })?;
    let role_name = match role {
        Role::Admin => "admin",
        Role::User => "user",
        Role::Readonly => "readonly",
    };
    println!("created user {username} ({role_name}, id {})", user.id);
    if generated {
        println!("password: {pw}");
        println!("(shown once: note it now; change it with `twoine-apid user passwd {username}`)");
    }
    Ok(())
}

pub(super) async fn passwd(
    store: &dyn crate::store::Store,
    username: &str,
    from_stdin: bool,
) -> Result<(), CliError> {
    let user = user_named(store, username).await?;
    let (pw, generated) = password(from_stdin)?;
    store.set_password(user.id, &hash(&pw)?).await?;
    println!("password of {username} changed");
    if generated {
        println!("password: {pw}");
        println!("(shown once: note it now)");
    }
    Ok(())
}

pub(super) async fn assign(
    store: &dyn crate::store::Store,
    username: &str,
    site: &str,
    access: AccessLevel,
) -> Result<(), CliError> {
    let user = user_named(store, username).await?;
    let site = super::sites::site_named(store, site).await?;
    store
        .assign_site(
            user.id,
            SiteAccess {
                site: site.id,
                access_level: access,
                assigned_at: Some(chrono::Utc::now()),
            },
        )
        .await?;
    let level = match access {
        AccessLevel::Owner => "owner",
        AccessLevel::Collaborator => "collaborator",
        AccessLevel::Readonly => "readonly",
    };
    println!("{username} now has {level} access to {}", site.name);
    Ok(())
}

pub(super) async fn unassign(
    store: &dyn crate::store::Store,
    username: &str,
    site: &str,
) -> Result<(), CliError> {
    let user = user_named(store, username).await?;
    let site = super::sites::site_named(store, site).await?;
    if store.remove_site_access(user.id, site.id).await? {
        println!("{username} no longer has access to {}", site.name);
    } else {
        println!(
            "{username} had no access entry for {}: nothing changed",
            site.name
        );
    }
    if site.owner == user.id {
        println!(
            "{username} owns {} and keeps it (ownership is not an access entry)",
            site.name
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_passwords_and_secrets() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        let s = generate_secret().unwrap();
        assert_eq!(s.len(), 64);
        assert!(s.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn emails() {
        assert!(valid_email("a@b.example"));
        assert!(!valid_email("a@b") && !valid_email("ab.example") && !valid_email("a b@c.d"));
        assert!(!valid_email("a@@b.c"));
    }
}
