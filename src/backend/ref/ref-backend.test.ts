import { Device } from '../device.ts';
import { kernelSuite } from '../testing/kernel-suite.ts';
import { createRefBackend } from './ref-backend.ts';

kernelSuite('ref', async () => new Device(createRefBackend()));
