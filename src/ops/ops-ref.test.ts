import { Device } from '../backend/device.ts';
import { createRefBackend } from '../backend/ref/ref-backend.ts';
import { opsSuite } from './ops-suite.ts';

opsSuite('ref', async () => new Device(createRefBackend()));
