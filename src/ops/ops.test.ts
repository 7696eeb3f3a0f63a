import { testDevices } from '../backend/test-devices.ts';
import { opsSuite } from './ops-suite.ts';

for (const d of testDevices) opsSuite(d.name, d.make);
