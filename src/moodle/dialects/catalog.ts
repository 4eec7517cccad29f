import type { ColumnInfo } from '../database.js';

/** A catalogue row as `ColumnInfo`: lengths kept only for char/varchar (the ones values are checked against). */
export function toColumnInfo(name: string, type: string, length: number | null): ColumnInfo {
  const maxLength = (type === 'varchar' || type === 'char') && length !== null ? Number(length) : null;
  return { name, type, maxLength };
}
