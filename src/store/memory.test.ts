import { runStoreContract } from './contract.ts';
import { createMemoryStore } from './memory.ts';

runStoreContract('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }), { durable: false });
