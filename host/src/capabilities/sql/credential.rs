//! What a database credential in the store looks like.
//!
//! Either a bare password, or the connection URL a consumer reads as
//! `DATABASE_URL` (`postgres://app_b:PASSWORD@db:5432/app`). The URL form
//! is what lets alternating users work: the login role changes with each
//! rotation, and the consumer learns the new one from the same value that
//! carries the new password. Only the host ever takes such a value apart.

use crate::store::SecretValue;

pub(super) struct Credential {
    /// The login role the URL names (not a secret); `None` for a bare password.
    pub user: Option<String>,
    pub password: SecretValue,
}

impl Credential {
    pub fn of(value: &SecretValue) -> Credential {
        let text = value.expose();
        let url = url::Url::parse(text)
            .ok()
            .filter(|u| matches!(u.scheme(), "postgres" | "postgresql"));
        let Some((user, password)) = url.and_then(|u| {
            let password = u.password()?;
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .ok()
                    .map(|s| s.into_owned())
            };
            Some((decode(u.username())?, decode(password)?))
        }) else {
            return Credential {
                user: None,
                password: value.clone(),
            };
        };
        Credential {
            user: (!user.is_empty()).then_some(user),
            password: SecretValue::new(password),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_its_user_and_decoded_password_and_anything_else_is_a_password() {
        let url = Credential::of(&SecretValue::new(
            "postgres://app_b:p%40ss@127.0.0.1:5432/app",
        ));
        assert_eq!(url.user.as_deref(), Some("app_b"));
        assert_eq!(url.password.expose(), "p@ss");
        for bare in [
            "hunter2",
            "https://u:p@example.test/",
            "postgres://app_b@db/app",
        ] {
            let c = Credential::of(&SecretValue::new(bare));
            assert_eq!((c.user, c.password.expose()), (None, bare), "{bare}");
        }
    }
}
