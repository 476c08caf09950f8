//! One test per rule of the head check, named after the rule.

use super::{check, Head, HeadFault, DEFAULT_MAX_HEAD, MAX_TARGET};

fn judged(head: &str) -> Head {
    check(head.as_bytes(), DEFAULT_MAX_HEAD)
}

fn refused(head: &str) -> HeadFault {
    match judged(head) {
        Head::Refused(fault) => fault,
        other => panic!("{head:?} was not refused: {other:?}"),
    }
}

const SOUND: Head = Head::Sound { pipelined: false };

#[test]
fn a_plain_request_is_sound() {
    assert_eq!(judged("GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n"), SOUND);
    assert_eq!(judged("GET / HTTP/1.0\r\n\r\n"), SOUND);
    assert_eq!(judged("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), SOUND);
}

#[test]
fn a_head_still_arriving_is_incomplete() {
    assert_eq!(judged("GET /a HTTP/1.1\r\nHost: x\r\n"), Head::Incomplete);
    assert_eq!(judged("GET /a HT"), Head::Incomplete);
}

#[test]
fn a_raw_space_in_the_target_is_a_bad_request_line() {
    assert_eq!(
        refused("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"),
        HeadFault::RequestLine
    );
    assert_eq!(
        refused("GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n"),
        HeadFault::RequestLine
    );
}

#[test]
fn a_malformed_header_field_is_refused() {
    assert_eq!(
        refused("GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n"),
        HeadFault::HeaderField
    );
    assert_eq!(
        refused("GET / HTTP/1.1\r\nHost: x\r\nA: \x01\r\n\r\n"),
        HeadFault::HeaderField
    );
}

#[test]
fn a_target_over_the_limit_is_414_even_before_its_line_ends() {
    let long = "a".repeat(MAX_TARGET + 1);
    assert_eq!(
        refused(&format!("GET /{long} HTTP/1.1\r\nHost: x\r\n\r\n")),
        HeadFault::TargetTooLong
    );
    assert_eq!(
        refused(&format!("GET /{long}{long}")),
        HeadFault::TargetTooLong
    );
    assert_eq!(HeadFault::TargetTooLong.status(), 414);
}

#[test]
fn a_head_over_the_size_limit_is_431() {
    let field = format!("X-Big: {}\r\n", "v".repeat(1000));
    let head = format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", field.repeat(70));
    assert_eq!(
        refused(&head),
        HeadFault::HeadTooLarge {
            limit: DEFAULT_MAX_HEAD
        }
    );
    assert_eq!(check(head.as_bytes(), 128 * 1024), SOUND);
    let unfinished = format!("GET / HTTP/1.1\r\nHost: x\r\n{}", field.repeat(70));
    assert_eq!(
        refused(&unfinished),
        HeadFault::HeadTooLarge {
            limit: DEFAULT_MAX_HEAD
        }
    );
    assert_eq!(HeadFault::TooManyHeaders.status(), 431);
}

#[test]
fn more_than_256_fields_is_431() {
    let head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
        "A: b\r\n".repeat(300)
    );
    assert_eq!(refused(&head), HeadFault::TooManyHeaders);
    assert_eq!(HeadFault::TooManyHeaders.status(), 431);
}

#[test]
fn an_http11_request_without_host_is_refused() {
    assert_eq!(refused("GET / HTTP/1.1\r\n\r\n"), HeadFault::MissingHost);
    assert_eq!(
        refused("GET http://x/ HTTP/1.1\r\n\r\n"),
        HeadFault::MissingHost
    );
}

#[test]
fn two_host_fields_are_refused() {
    assert_eq!(
        refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        HeadFault::RepeatedHost
    );
    assert_eq!(
        refused("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"),
        HeadFault::RepeatedHost
    );
}

#[test]
fn an_absolute_target_must_name_the_host() {
    assert_eq!(judged("GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n"), SOUND);
    assert_eq!(
        refused("GET http://y/a HTTP/1.1\r\nHost: x\r\n\r\n"),
        HeadFault::Authority
    );
    assert_eq!(
        refused("GET http://u@x/a HTTP/1.1\r\nHost: u@x\r\n\r\n"),
        HeadFault::Authority
    );
}

#[test]
fn content_length_must_be_digits_and_its_copies_equal() {
    assert_eq!(
        judged("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
        SOUND
    );
    // Pingora refuses a comma list even of equal values: so does the check, with a word.
    for bad in ["5, 5", "5, 6", "-1", "+5", "5x", ""] {
        let head = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {bad}\r\n\r\n");
        assert_eq!(refused(&head), HeadFault::ContentLength, "{bad:?}");
    }
    let two = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
    assert_eq!(refused(two), HeadFault::ContentLength);
}

#[test]
fn transfer_encoding_must_end_in_chunked() {
    let head = |te: &str| format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {te}\r\n\r\n");
    assert_eq!(judged(&head("chunked")), SOUND);
    assert_eq!(judged(&head("gzip, chunked")), SOUND);
    assert_eq!(judged(&head("Chunked")), SOUND);
    assert_eq!(refused(&head("chunked, gzip")), HeadFault::TransferEncoding);
    assert_eq!(
        refused(&head("chunked, chunked")),
        HeadFault::TransferEncoding
    );
    assert_eq!(refused(&head("gzip")), HeadFault::TransferEncoding);
}

#[test]
fn an_unknown_transfer_coding_is_501() {
    let head = |te: &str| format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {te}\r\n\r\n");
    assert_eq!(refused(&head("xchunked")), HeadFault::UnknownCoding);
    assert_eq!(refused(&head("br, chunked")), HeadFault::UnknownCoding);
    assert_eq!(HeadFault::UnknownCoding.status(), 501);
}

#[test]
fn transfer_encoding_on_http10_is_refused() {
    let head = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(refused(head), HeadFault::TransferEncoding);
}

#[test]
fn connect_is_405() {
    assert_eq!(
        refused("CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n"),
        HeadFault::Connect
    );
    assert_eq!(HeadFault::Connect.status(), 405);
}

#[test]
fn bytes_after_a_bodiless_request_are_a_pipelined_request() {
    let two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(judged(two), Head::Sound { pipelined: true });
    let zero = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /b";
    assert_eq!(judged(zero), Head::Sound { pipelined: true });
    let body = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(judged(body), SOUND);
}

#[test]
fn a_target_a_uri_cannot_hold_is_refused_before_pingora_refuses_it_without_a_word() {
    assert_eq!(
        refused("GET /a?q=<b> HTTP/1.1\r\nHost: x\r\n\r\n"),
        HeadFault::Target
    );
    assert_eq!(
        refused("GET /a/<img> HTTP/1.1\r\nHost: x\r\n\r\n"),
        HeadFault::Target
    );
    assert_eq!(
        judged("GET /a/b.c?d=e&f=%20+g HTTP/1.1\r\nHost: x\r\n\r\n"),
        SOUND
    );
}

#[test]
fn every_fault_has_a_zeroed_series_from_start() {
    let faults = [
        HeadFault::RequestLine,
        HeadFault::HeaderField,
        HeadFault::Target,
        HeadFault::TargetTooLong,
        HeadFault::HeadTooLarge { limit: 1 },
        HeadFault::TooManyHeaders,
        HeadFault::MissingHost,
        HeadFault::RepeatedHost,
        HeadFault::Authority,
        HeadFault::ContentLength,
        HeadFault::TransferEncoding,
        HeadFault::UnknownCoding,
        HeadFault::Connect,
        HeadFault::PlainHttpToTls,
    ];
    for fault in faults {
        // A fault added to the enum without a line here fails to compile below.
        match fault {
            HeadFault::RequestLine
            | HeadFault::HeaderField
            | HeadFault::Target
            | HeadFault::TargetTooLong
            | HeadFault::HeadTooLarge { .. }
            | HeadFault::TooManyHeaders
            | HeadFault::MissingHost
            | HeadFault::RepeatedHost
            | HeadFault::Authority
            | HeadFault::ContentLength
            | HeadFault::TransferEncoding
            | HeadFault::UnknownCoding
            | HeadFault::Connect
            | HeadFault::PlainHttpToTls => {}
        }
        let listed = crate::telemetry::catalog::REJECTED_REASONS.contains(&fault.code());
        assert!(listed, "{} is not in telemetry::catalog", fault.code());
    }
}
