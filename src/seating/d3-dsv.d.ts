// The part of d3-dsv's API the seat map uses (its @types package is not needed for one function).
declare module "d3-dsv" {
  /** RFC 4180 rows: quoted fields, "" escapes, \n or \r\n line ends. */
  export function csvParseRows(text: string): string[][];
}
