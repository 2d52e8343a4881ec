/**
 * The one HTTP-date parser (RFC 9110 §5.6.7) of all three policies — never Date.parse, which takes
 * almost anything ("0", "2050-08-18", "Thu, 18 Aug 2050 02:01:18 UTC") as a date.
 *
 *   IMF-fixdate  = day-name "," SP 2DIGIT SP month SP 4DIGIT SP hh ":" mm ":" ss SP "GMT"
 *   rfc850-date  = day-name-l "," SP 2DIGIT "-" month "-" 2DIGIT SP hh ":" mm ":" ss SP "GMT"
 *   asctime-date = day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP hh ":" mm ":" ss SP 4DIGIT
 *
 * The two obsolete forms are accepted because §5.6.7 says recipients MUST accept all three.
 * Names are matched case-insensitively: RFC 9111 §4.2 asks a cache to (dates are otherwise case-sensitive).
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const LONG_DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

const IMF_FIXDATE = /^([A-Za-z]{3}), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const RFC850_DATE = /^([A-Za-z]{6,9}), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const ASCTIME_DATE = /^([A-Za-z]{3}) ([A-Za-z]{3}) (\d{2}| \d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * Epoch milliseconds of an HTTP-date, or undefined when the value is not one. Several field lines
 * (an array) are invalid: the field takes a single date.
 */
export function parseHttpDate(value: string | readonly string[] | undefined, now = Date.now()): number | undefined {
  if (value === undefined || typeof value !== 'string') return undefined;
  let match = IMF_FIXDATE.exec(value);
  if (match) {
    if (!DAYS.includes(match[1]!.toLowerCase())) return undefined;
    return toEpoch(Number(match[4]), match[3]!, match[2]!, match[5]!, match[6]!, match[7]!);
  }
  match = RFC850_DATE.exec(value);
  if (match) {
    if (!LONG_DAYS.includes(match[1]!.toLowerCase())) return undefined;
    return toEpoch(fullYear(Number(match[4]), now), match[3]!, match[2]!, match[5]!, match[6]!, match[7]!);
  }
  match = ASCTIME_DATE.exec(value);
  if (match) {
    if (!DAYS.includes(match[1]!.toLowerCase())) return undefined;
    return toEpoch(Number(match[7]), match[2]!, match[3]!.trim(), match[4]!, match[5]!, match[6]!);
  }
  return undefined;
}

/**
 * RFC 9110 §5.6.7: a two-digit year that "appears to be more than 50 years in the future" is the
 * most recent past year with the same last two digits.
 */
function fullYear(twoDigits: number, now: number): number {
  const current = new Date(now).getUTCFullYear();
  let year = Math.floor(current / 100) * 100 + twoDigits;
  if (year > current + 50) year -= 100;
  return year;
}

function toEpoch(year: number, monthName: string, day: string, hour: string, minute: string, second: string): number | undefined {
  const month = MONTHS.indexOf(monthName.toLowerCase());
  const d = Number(day);
  const h = Number(hour);
  const m = Number(minute);
  // RFC 9110 §5.6.7 allows second 60 (a leap second); Date.UTC rolls it into the next minute.
  const s = Number(second);
  if (month < 0 || d < 1 || d > 31 || h > 23 || m > 59 || s > 60) return undefined;
  const epoch = Date.UTC(year, month, d, h, m, s);
  // 31 Feb and the like roll over in Date.UTC: such a date is not one.
  if (new Date(epoch).getUTCDate() !== d && s !== 60) return undefined;
  return epoch;
}

/** IMF-fixdate of an epoch time (RFC 9110 §5.6.7: what a sender generates). */
export function formatHttpDate(epochMs: number): string {
  return new Date(epochMs).toUTCString();
}
