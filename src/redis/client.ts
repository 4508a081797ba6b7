// The redis client package, an optional peer dependency: importing
// streamkernel/redis without it fails here, saying `npm install redis`.
import { importOptional } from '../optional.js';

export const redis = await importOptional('redis', 'streamkernel/redis', () => import('redis'));
