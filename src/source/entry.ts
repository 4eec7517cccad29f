/**
 * A directory entry, normalised once at the source boundary so that the rest of the pipeline never
 * worries about the server's attribute case or about single versus multiple values.
 */
export interface LdapEntry {
  /** The DN as the source gave it (for messages). */
  readonly dn: string;
  /** Attribute name lower-cased → values (always an array, possibly empty never: absent attributes are absent). */
  readonly attributes: Readonly<Record<string, readonly string[]>>;
}

/** Values of an attribute, by any case of its name. */
export function values(entry: LdapEntry, attribute: string): readonly string[] {
  return entry.attributes[attribute.toLowerCase()] ?? [];
}

/**
 * Normalised form of a DN for comparisons: each RDN's attribute type lower-cased, spaces around `=` and `,`
 * removed, values compared case-insensitively (SDET DN attributes are case-ignore), hex/backslash escapes decoded.
 */
export function normalizeDn(dn: string): string {
  const rdns: string[] = [];
  let current = '';
  let i = 0;
  while (i < dn.length) {
    const ch = dn[i] as string;
    if (ch === '\\' && i + 1 < dn.length) {
      const hex = dn.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        // Collect a run of hex escapes and decode them as UTF-8 bytes.
        const bytes: number[] = [];
        while (dn[i] === '\\' && /^[0-9a-fA-F]{2}$/.test(dn.slice(i + 1, i + 3))) {
          bytes.push(Number.parseInt(dn.slice(i + 1, i + 3), 16));
          i += 3;
        }
        current += Buffer.from(bytes).toString('utf8');
        continue;
      }
      current += dn[i + 1];
      i += 2;
      continue;
    }
    if (ch === ',' || ch === ';') {
      rdns.push(current);
      current = '';
      i += 1;
      continue;
    }
    current += ch;
    i += 1;
  }
  rdns.push(current);
  return rdns
    .map((rdn) =>
      rdn
        .split('+')
        .map((ava) => {
          const eq = ava.indexOf('=');
          if (eq < 0) return ava.trim().toLowerCase();
          return `${ava.slice(0, eq).trim().toLowerCase()}=${ava
            .slice(eq + 1)
            .trim()
            .normalize('NFC')
            .toLowerCase()}`;
        })
        .sort()
        .join('+'),
    )
    .join(',');
}
