//! Typed readings of condition values, shared by validation (policy side) and
//! evaluation (request side): numbers, dates (ISO 8601 or epoch seconds),
//! booleans and IP addresses or CIDR blocks.

use std::net::IpAddr;

use ipnet::IpNet;

/// A number as the `Numeric*` operators read it: optional sign, digits, optional
/// fraction. No exponents, no `inf`/`NaN`.
pub fn parse_number(s: &str) -> Option<f64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(digits.contains('.') && frac.is_empty());
    ok.then(|| s.parse::<f64>().ok()).flatten().filter(|n| n.is_finite())
}

/// A `Bool` value: `true` or `false`, in any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A date as nanoseconds since the Unix epoch. Accepts epoch seconds (`1700000000`,
/// optionally with a fraction) and ISO 8601 / RFC 3339 forms: `2024-05-01`,
/// `2024-05-01T12:30Z`, `2024-05-01T12:30:00Z`, `2024-05-01T12:30:00.5+02:00`,
/// `…+0200`, `…+02`; a time without a zone is UTC.
pub fn parse_date(s: &str) -> Option<i128> {
    if s.bytes().next().is_some_and(|b| b.is_ascii_digit()) && !s.contains('-') {
        return parse_epoch(s);
    }
    // Only ASCII can be a date; checking first keeps every slice below on a char boundary.
    if !s.is_ascii() {
        return None;
    }
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut nanos = days_from_civil(year, month, day) as i128 * 86_400 * 1_000_000_000;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(nanos);
    }
    let rest = rest.strip_prefix(['T', 't'])?;
    // hh:mm[:ss[.frac]] then the zone.
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let mut fields = time.splitn(3, ':');
    let hour = digits2(fields.next()?)?;
    let minute = digits2(fields.next()?)?;
    let (second, frac_nanos) = match fields.next() {
        None => (0, 0),
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let frac_nanos = if sec.contains('.') { fraction_nanos(frac)? } else { 0 };
            (digits2(whole)?, frac_nanos)
        }
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    nanos += ((hour * 3600 + minute * 60 + second) as i128) * 1_000_000_000 + frac_nanos;
    let offset_seconds: i64 = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let z = &zone[1..];
            let (h, m) = match z.len() {
                2 => (digits2(z)?, 0),
                4 => (digits2(&z[0..2])?, digits2(&z[2..4])?),
                5 if z.as_bytes()[2] == b':' => (digits2(&z[0..2])?, digits2(&z[3..5])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    Some(nanos - offset_seconds as i128 * 1_000_000_000)
}

/// A request-side IP address; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is
/// read as the IPv4 address it carries, so IPv4 CIDR blocks match it.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let ip: IpAddr = s.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// A policy-side `IpAddress` value: a CIDR block (`203.0.113.0/24`, `2001:db8::/32`)
/// or a single address (a /32 or /128).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if s.contains('/') {
        s.parse().ok()
    } else {
        s.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

fn parse_epoch(s: &str) -> Option<i128> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || whole.len() > 18 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_nanos = if s.contains('.') { fraction_nanos(frac)? } else { 0 };
    Some(whole.parse::<i128>().ok()? * 1_000_000_000 + frac_nanos)
}

fn fraction_nanos(frac: &str) -> Option<i128> {
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos: i128 = 0;
    for (i, b) in frac.bytes().enumerate() {
        if i < 9 {
            nanos += i128::from(b - b'0') * 10i128.pow(8 - i as u32);
        }
    }
    Some(nanos)
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn digits2(s: &str) -> Option<i64> {
    (s.len() == 2).then(|| digits(s)).flatten()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = 1_000_000_000;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("0"), Some(0));
        assert_eq!(parse_date("2024-02-29T12:00:00Z"), Some(1_709_208_000 * S));
        assert_eq!(parse_date("1709208000"), Some(1_709_208_000 * S));
        assert_eq!(parse_date("2024-02-29T14:00:00+02:00"), Some(1_709_208_000 * S));
        assert_eq!(parse_date("2024-02-29T07:00-0500"), Some(1_709_208_000 * S));
        assert_eq!(parse_date("2024-02-29T12:00:00.25Z"), Some(1_709_208_000 * S + S / 4));
        assert_eq!(parse_date("1709208000.5"), Some(1_709_208_000 * S + S / 2));
        assert_eq!(parse_date("2024-02-29t12:00:00z"), Some(1_709_208_000 * S));
        for bad in [
            "",
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "2024-01-01T25:00Z",
            "2024-01-01T",
            "2024-01-01T12",
            "2024-01-01 12:00Z",
            "yesterday",
            "1.",
            "-5",
            "2024-01-01T12:00+2",
            "2024-01-01T12:00:00.Z",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_bools_ips() {
        assert_eq!(parse_number("42"), Some(42.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        for bad in ["", "abc", "1e3", "inf", "NaN", "1.", ".5", "1.2.3", "--1"] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("yes"), None);
        assert_eq!(parse_ip("::ffff:10.0.0.1"), "10.0.0.1".parse().ok());
        assert!(
            parse_cidr("10.0.0.0/8")
                .unwrap()
                .contains(&parse_ip("10.1.2.3").unwrap())
        );
        assert!(parse_cidr("2001:db8::/32").is_some());
        assert!(
            parse_cidr("203.0.113.7")
                .unwrap()
                .contains(&parse_ip("203.0.113.7").unwrap())
        );
        assert!(parse_cidr("10.0.0.0/33").is_none());
    }
}
