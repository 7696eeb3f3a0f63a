// genlab's public API, grouped by layer.

// Engine: devices, tensors, autograd, ops
export { init, createDevice, defaultDevice, setDefaultDevice, type InitOptions } from './backend/registry.ts';
export { Device, type BackendName } from './backend/device.ts';
export { Rng } from './backend/rng.ts';
export { Tensor, markWritten, writeVersion, type DType } from './tensor/tensor.ts';
export { tensor, zeros, ones, full, randn, rand, ids } from './tensor/create.ts';
export { backward, noGrad } from './autograd/tape.ts';
export { gradcheck, type GradcheckOptions, type GradcheckResult } from './autograd/gradcheck.ts';
export * from './ops/index.ts';

// Layers and optimisation
export { Module, createParameter } from './nn/module.ts';
export { Linear, Embedding, LayerNorm, RmsNorm, Dropout } from './nn/layers.ts';
export { PACKED_MAX_ROWS, packedWeight, withoutWeightPacking } from './nn/packed-weights.ts';
export { FlatParameters } from './nn/flat-parameters.ts';
export { AdamW, clipGradNorm, cosineLr, type AdamWOptions } from './optim/adamw.ts';

// Models, tokenizer, files
export { Gpt, defaultGptConfig, type GptConfig, type GptOutput } from './models/gpt.ts';
export { Llama, defaultLlamaConfig, type LlamaConfig, type LlamaOutput, type RopeScaling } from './models/llama.ts';
export { readLlamaConfig, llamaConfigFromJson } from './io/llama-config.ts';
export { loadLlamaWeights } from './io/llama-weights.ts';
export { KvCache, type KvCacheShape } from './models/kv-cache.ts';
export { trainingFlops, forwardFlopsPerToken } from './models/flops.ts';
export { ByteLevelTokenizer, HfTokenizer, trainBpe, loadTokenizer, saveTokenizer, type Tokenizer } from './tokenizer/index.ts';
export { loadLanguageModel, loadModel, saveModel, type LoadedLlama, type LoadedModel } from './io/model-folder.ts';
export { downloadSnapshot, parseHubSpec, resolveModelSource, type HubModelSpec, type HubOptions, type HubProgress, type HubSnapshot } from './io/hub.ts';
export { hubCacheDir } from './io/hub-cache.ts';
export { openSafetensors, writeSafetensors } from './io/safetensors.ts';
export { openGguf, writeGguf } from './io/gguf.ts';
export { exportGguf, type ExportGgufOptions, type ExportGgufResult } from './export/gguf-export.ts';
export { importGguf } from './export/gguf-import.ts';

// Training and generation
export { trainLoop, evaluate, type TrainLoopOptions, type TrainResult } from './train/trainer.ts';
export { runTraining, type LoopOptions, type LoopResult, type StepOutcome } from './train/loop.ts';
export { presets, type Preset, type PresetName } from './train/presets.ts';
export { generate, generateStream, scoreText, scoreIds, type GenerateOptions, type GenerateEvent, type LanguageModel } from './generate/generate.ts';

// Serving
export { serveCommand, createServer, type ServeCommandOptions, type RunningServer } from './serve/index.ts';

// Fine-tuning
export { LoraAdapter, attachAdapter, freezeBase, mergeAdapter, unmergeAdapter, type LoraConfig } from './nn/lora.ts';
export { loadAdapter, saveAdapter } from './io/peft.ts';

// Alignment
export { readPreferences, tokenizePairs, type PreferencePair, type TokenizedPair } from './align/preferences.ts';
export { dpoLoss, referenceLogprobs, trainDpo, type DpoTrainOptions } from './align/dpo.ts';
export { RewardModel, trainRewardModel, loadRewardModel, saveRewardModel, scoreCompletions } from './align/reward-model.ts';
export { generateBestOf, meanLogprobScorer, type BestOfOptions, type CompletionScorer } from './generate/best-of.ts';
