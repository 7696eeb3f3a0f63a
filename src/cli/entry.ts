// Runs the CLI from TypeScript sources (development: `npm run genlab -- <args>`).
import { main } from './main.ts';

await main(process.argv);
