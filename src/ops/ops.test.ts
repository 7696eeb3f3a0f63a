import { testDevices } from '../backend/testing/devices.ts';
import { opsSuite } from './testing/ops-suite.ts';

for (const d of testDevices) opsSuite(d.name, d.make);
