//! Change ids: ULIDs, minted once at plan time.
//!
//! A ULID sorts by creation time, so `ls manifests/` lists changes in the
//! order they were planned; its 80 random bits make two hosts planning at
//! the same millisecond collide with negligible odds. The id is carried on
//! every audit record, manifest, store version and commit trailer of the
//! change, and never changes.

pub fn mint() -> String {
    ulid::Ulid::new().to_string()
}

/// Whether `text` is a ULID as [`mint`] writes it; anything else is refused
/// before it becomes part of a file name.
pub fn is_valid(text: &str) -> bool {
    text.len() == 26 && ulid::Ulid::from_string(text).is_ok_and(|u| u.to_string() == text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn minted_ids_are_valid_unique_and_sort_by_time() {
        let a = super::mint();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::mint();
        assert!(super::is_valid(&a) && super::is_valid(&b));
        assert!(a < b, "{a} then {b}");
        for bad in [
            "",
            "../../etc/passwd",
            "01J0000000000000000000000!",
            &a.to_lowercase(),
        ] {
            assert!(!super::is_valid(bad), "{bad}");
        }
    }
}
