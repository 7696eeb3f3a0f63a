// The yardstick of the model card: Stanford CRFM's assessment "Do Foundation Model Providers Comply
// with the Draft EU AI Act?" (Bommasani, Klyman, Zhang and Liang, June 2023). From the European
// Parliament's draft of June 2023 they took twelve requirements on foundation-model providers,
// wrote a 0–4 rubric for each, and graded ten providers on their flagship models. The rubric below
// is a summary in genlab's words; the authoritative text is rubric.md in their repository.

export const CRFM_SOURCE = {
  title: 'Do Foundation Model Providers Comply with the Draft EU AI Act?',
  authors: 'Rishi Bommasani, Kevin Klyman, Daniel Zhang, Percy Liang (Stanford CRFM)',
  date: '2023-06-15',
  url: 'https://crfm.stanford.edu/2023/06/15/eu-ai-act.html',
  data: 'https://github.com/stanford-crfm/EUAIActJune15 (requirements.md, rubric.md, grades/, results.png)',
};

export type RequirementKey =
  | 'dataSources'
  | 'dataGovernance'
  | 'copyrightedData'
  | 'compute'
  | 'energy'
  | 'capabilities'
  | 'risks'
  | 'evaluations'
  | 'testing'
  | 'machineGenerated'
  | 'memberStates'
  | 'downstream';

export interface Requirement {
  key: RequirementKey;
  title: string;
  /** Where the draft Act asks for it. */
  article: string;
  /** How points are earned (summary). */
  rubric: string[];
}

export const REQUIREMENTS: readonly Requirement[] = [
  {
    key: 'dataSources',
    title: 'Data sources',
    article: 'Annex VIII, Section C',
    rubric: ['+1 a general description of the data', '+1 the stages of training the data was used in', '+1 the size of each source', '+1 fine-grained provenance of each source'],
  },
  {
    key: 'dataGovernance',
    title: 'Data governance',
    article: 'Art. 28b(2)(b)',
    rubric: ['0 nothing said', '1 a vague mention', '2–3 concrete measures about the suitability or bias of the sources', '4 governance required of all data used'],
  },
  {
    key: 'copyrightedData',
    title: 'Copyrighted data',
    article: 'Art. 28b(4)(c)',
    rubric: ['0 nothing said', '1 a vague acknowledgement', '2–3 a grounded discussion of specific copyrighted material', '4 copyrighted and non-copyrighted data separated source by source'],
  },
  {
    key: 'compute',
    title: 'Compute',
    article: 'Annex VIII, Section C',
    rubric: ['+1 model size', '+1 training time with the number and type of hardware', '+1 training FLOPs', '+1 context: who provided the compute, how FLOPs were counted'],
  },
  {
    key: 'energy',
    title: 'Energy',
    article: 'Art. 28b(2)(d)',
    rubric: ['+1 energy used', '+1 emissions', '+1 how they were measured (location, method)', '+1 measures taken to reduce them'],
  },
  {
    key: 'capabilities',
    title: 'Capabilities and limitations',
    article: 'Annex VIII, Section C',
    rubric: ['0 nothing said', '1 vague', '2–3 specific capabilities and limitations', '4 fine-grained, grounded in evaluations and examples'],
  },
  {
    key: 'risks',
    title: 'Risks and mitigations',
    article: 'Annex VIII, Section C; Art. 28b(2)(a)',
    rubric: ['+1 the foreseeable risks', '+1 the mitigations', '+1 how well the mitigations work', '+1 why the remaining risks cannot be mitigated'],
  },
  {
    key: 'evaluations',
    title: 'Evaluations',
    article: 'Annex VIII, Section C; Art. 28b(2)(c)',
    rubric: ['+1 accuracy on several benchmarks', '+1 unintentional harms (e.g. bias)', '+1 intentional harms (e.g. misuse)', '+1 other properties (robustness, calibration, ...)'],
  },
  {
    key: 'testing',
    title: 'Testing',
    article: 'Annex VIII, Section C; Art. 28b(2)(c)',
    rubric: ['+1 or +2 internal testing, process and results', '+1 external evaluation with outside access', '+1 external red-teaming'],
  },
  {
    key: 'machineGenerated',
    title: 'Machine-generated content',
    article: 'Recital 60g',
    rubric: ['+1 to +3 content is disclosed as machine-generated where the provider controls the output', '+1 a mechanism (e.g. a watermark) that keeps it identifiable beyond that'],
  },
  {
    key: 'memberStates',
    title: 'Member states',
    article: 'Annex VIII, Section C',
    rubric: ['0 nothing said about the EU', '2 the member states where it is (not) available', '4 practice per member state'],
  },
  {
    key: 'downstream',
    title: 'Downstream documentation',
    article: 'Recital 60g; Art. 28b(2)(e)',
    rubric: ['0 none', '1 a generic acknowledgement', '2 relevant documentation exists', '3–4 a clear way it reaches downstream providers'],
  },
];

export interface ProviderGrade {
  provider: string;
  model: string;
  /** Total of the twelve 0–4 grades (out of 48). */
  total: number;
}

/** Totals of the ten graded providers, as in the assessment's results figure (results.png). */
export const PROVIDER_GRADES: readonly ProviderGrade[] = [
  { provider: 'OpenAI', model: 'GPT-4', total: 25 },
  { provider: 'Cohere', model: 'Command', total: 23 },
  { provider: 'Stability AI', model: 'Stable Diffusion v2', total: 22 },
  { provider: 'Anthropic', model: 'Claude', total: 7 },
  { provider: 'Google', model: 'PaLM 2', total: 27 },
  { provider: 'BigScience / Hugging Face', model: 'BLOOM', total: 36 },
  { provider: 'Meta', model: 'LLaMA', total: 21 },
  { provider: 'AI21 Labs', model: 'Jurassic-2', total: 8 },
  { provider: 'Aleph Alpha', model: 'Luminous', total: 5 },
  { provider: 'EleutherAI', model: 'GPT-NeoX', total: 29 },
];

export const MAX_TOTAL = 4 * REQUIREMENTS.length;
