import fs from 'node:fs';
import path from 'node:path';

/**
 * Where the page's static files are: app/public, beside app/src when running the
 * TypeScript (ts-jest), or three levels up from dist/app/src when running the
 * compiled code (npm run serve, the container: /app/dist/app/src → /app/app/public).
 */
export function findPublicDir(from: string = __dirname): string {
  const candidates = [path.resolve(from, '..', 'public'), path.resolve(from, '..', '..', '..', 'app', 'public')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html')));
  if (!found) throw new Error(`the page's files (index.html) are in none of: ${candidates.join(', ')}`);
  return found;
}
