//! The response state machine, one behaviour per test. `B` is the kept
//! body's length, standing in for the bytes.

use super::*;

fn head(code: u16, content_length: Option<u64>) -> Head {
    Head {
        code,
        status_line: format!("{code} Status").into_bytes(),
        headers: vec![(b"Content-Type".to_vec(), b"text/plain".to_vec())],
        content_length,
    }
}

fn started(code: u16, content_length: Option<u64>) -> State<u64> {
    let mut state = State::new(false);
    state.start(head(code, content_length)).unwrap();
    state
}

fn overriding(code: u16) -> State<u64> {
    let mut state = State::new(true);
    state.start(head(code, None)).unwrap();
    state
}

fn head_code(claim: &Claim) -> Option<u16> {
    claim.head.as_ref().map(|head| head.code)
}

#[test]
fn nothing_is_started_before_start_response() {
    let state = State::<u64>::new(false);
    assert!(!state.started());
    assert!(!state.headers_sent());
}

#[test]
fn the_first_block_carries_the_head() {
    let mut state = started(200, None);
    let claim = state.claim(5).unwrap();
    assert_eq!(head_code(&claim), Some(200));
    assert_eq!(claim.take, 5);
    assert!(state.headers_sent());
}

#[test]
fn the_head_goes_out_only_once() {
    let mut state = started(200, None);
    state.claim(5).unwrap();
    let second = state.claim(3).unwrap();
    assert!(second.head.is_none());
    assert_eq!(second.take, 3);
}

#[test]
fn the_body_is_cut_at_the_declared_content_length() {
    let mut state = started(200, Some(8));
    assert_eq!(state.claim(5).unwrap().take, 5);
    let second = state.claim(5).unwrap();
    assert_eq!(second.take, 3);
    assert_eq!(second.length, Some(8));
}

#[test]
fn a_block_past_the_content_length_reaches_nothing() {
    let mut state = started(200, Some(4));
    state.claim(4).unwrap();
    assert!(state.claim(10).is_none());
}

#[test]
fn an_empty_first_claim_still_sends_the_head() {
    let mut state = started(204, Some(0));
    let claim = state.claim(10).unwrap();
    assert_eq!(head_code(&claim), Some(204));
    assert_eq!(claim.take, 0);
}

#[test]
fn start_response_again_before_output_replaces_the_head() {
    let mut state = started(200, Some(10));
    state.start(head(500, Some(3))).unwrap();
    let claim = state.claim(10).unwrap();
    assert_eq!(head_code(&claim), Some(500));
    assert_eq!(claim.length, Some(3));
    assert_eq!(claim.take, 3);
}

#[test]
fn start_response_after_the_head_went_out_is_refused() {
    let mut state = started(200, None);
    state.claim(1).unwrap();
    assert_eq!(state.start(head(500, None)), Err(HeadersAlreadySent));
}

#[test]
fn a_computed_length_applies_only_when_the_app_declared_none() {
    let mut declared = started(200, Some(2));
    declared.set_length_if_unset(9);
    assert_eq!(declared.claim(9).unwrap().length, Some(2));

    let mut undeclared = started(200, None);
    undeclared.set_length_if_unset(9);
    assert_eq!(undeclared.claim(9).unwrap().length, Some(9));
}

#[test]
fn a_computed_length_is_ignored_once_the_head_went_out() {
    let mut state = started(200, None);
    state.claim(1).unwrap();
    state.set_length_if_unset(9);
    assert_eq!(state.claim(20).unwrap().length, None);
}

#[test]
fn a_file_gives_the_response_its_length_when_none_was_declared() {
    let mut state = started(200, None);
    let claim = state.claim_file(100).unwrap();
    assert_eq!(claim.length, Some(100));
    assert_eq!(claim.take, 100);
}

#[test]
fn a_file_is_cut_at_the_declared_content_length() {
    let mut state = started(200, Some(30));
    let claim = state.claim_file(100).unwrap();
    assert_eq!(claim.length, Some(30));
    assert_eq!(claim.take, 30);
}

#[test]
fn error_override_hands_an_error_status_to_apache() {
    let mut state = overriding(404);
    assert!(state.claim(10).is_none());
    assert_eq!(state.overridden_status(), Some(404));
    assert!(!state.headers_sent());
    assert!(matches!(state.finish(), Finish::HandToApache));
}

#[test]
fn error_override_leaves_a_success_status_alone() {
    let mut state = overriding(200);
    assert_eq!(head_code(&state.claim(10).unwrap()), Some(200));
    assert_eq!(state.overridden_status(), None);
}

#[test]
fn error_override_of_an_empty_body_still_hands_the_error_to_apache() {
    let mut state = overriding(500);
    assert!(matches!(state.finish(), Finish::HandToApache));
    assert_eq!(state.overridden_status(), Some(500));
}

#[test]
fn an_overridden_error_keeps_only_its_challenges() {
    let mut state = State::<u64>::new(true);
    let mut unauthorized = head(401, None);
    unauthorized
        .headers
        .push((b"www-authenticate".to_vec(), b"Basic realm=\"x\"".to_vec()));
    state.start(unauthorized).unwrap();
    state.claim(1);
    assert_eq!(
        state.overridden_challenges(),
        vec![b"Basic realm=\"x\"".to_vec()]
    );
}

#[test]
fn without_error_override_an_error_status_is_sent_as_it_is() {
    let mut state = started(404, None);
    assert_eq!(head_code(&state.claim(3).unwrap()), Some(404));
    assert_eq!(state.overridden_status(), None);
}

#[test]
fn the_only_block_is_kept_with_the_head() {
    let mut state = started(200, None);
    assert!(state.defer_only_block(7, |take| take));
    // Kept, not sent: an error now may still replace the response.
    assert!(!state.headers_sent());
    let deferred = state.take_deferred().unwrap();
    assert_eq!(deferred.head.map(|head| head.code), Some(200));
    assert_eq!(deferred.body, 7);
}

#[test]
fn the_kept_block_is_cut_at_the_declared_content_length() {
    let mut state = started(200, Some(4));
    assert!(state.defer_only_block(7, |take| take));
    assert_eq!(state.take_deferred().unwrap().body, 4);
}

#[test]
fn a_second_block_is_not_kept() {
    let mut state = started(200, None);
    assert!(state.defer_only_block(7, |take| take));
    assert!(!state.defer_only_block(3, |take| take));
}

#[test]
fn a_block_after_the_head_went_out_is_not_kept() {
    let mut state = started(200, None);
    state.claim(1).unwrap();
    assert!(!state.defer_only_block(3, |take| take));
}

#[test]
fn an_overridden_error_is_not_kept() {
    let mut state = overriding(503);
    assert!(!state.defer_only_block(3, |take| take));
    assert_eq!(state.overridden_status(), Some(503));
}

#[test]
fn finishing_without_start_response_is_an_error() {
    let mut state = State::<u64>::new(false);
    assert!(matches!(state.finish(), Finish::NotStarted));
}

#[test]
fn finishing_a_complete_kept_block_leaves_it_to_the_handler() {
    let mut state = started(200, None);
    state.defer_only_block(7, |take| take);
    assert!(matches!(state.finish(), Finish::Deferred));
    assert_eq!(state.take_deferred().unwrap().body, 7);
}

#[test]
fn finishing_a_kept_block_shorter_than_its_length_sends_it_now() {
    let mut state = started(200, Some(10));
    state.defer_only_block(7, |take| take);
    let Finish::Send {
        deferred,
        head,
        length,
        sent,
    } = state.finish()
    else {
        panic!("a short kept block is sent at the end");
    };
    assert_eq!(deferred.map(|d| d.body), Some(7));
    assert!(head.is_none(), "the head goes with the kept block");
    assert_eq!((length, sent), (Some(10), 7));
}

#[test]
fn finishing_before_any_body_sends_the_head() {
    let mut state = started(200, None);
    let Finish::Send {
        deferred,
        head,
        sent,
        ..
    } = state.finish()
    else {
        panic!("an empty response is sent at the end");
    };
    assert!(deferred.is_none());
    assert_eq!(head.map(|head| head.code), Some(200));
    assert_eq!(sent, 0);
    assert!(state.headers_sent());
}

#[test]
fn finishing_after_the_body_sends_no_second_head() {
    let mut state = started(200, Some(5));
    state.claim(2).unwrap();
    let Finish::Send {
        head, length, sent, ..
    } = state.finish()
    else {
        panic!("a streamed response ends with a send");
    };
    assert!(head.is_none());
    assert_eq!((length, sent), (Some(5), 2));
}
