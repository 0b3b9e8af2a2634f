// Types for drizzle-kit's generated migrations.js (the object's migrations, bundled as text).
declare const bundle: {
  journal: { entries: { idx: number; when: number; tag: string; breakpoints: boolean }[] };
  migrations: Record<string, string>;
};
export default bundle;
