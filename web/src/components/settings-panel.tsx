// Generation settings (model, length, temperature, top-k, top-p, watermark), remembered across reloads.

import type { ServerConfig } from '../api.ts';
import type { Settings } from '../settings.ts';

interface SliderProps {
  id: string;
  label: string;
  hint: string;
  value: number;
  min: number;
  max: number;
  step: number;
  format?: (v: number) => string;
  onChange: (v: number) => void;
}

function Slider({ id, label, hint, value, min, max, step, format, onChange }: SliderProps) {
  return (
    <div className="field">
      <div className="field-row">
        <label htmlFor={id}>{label}</label>
        <output htmlFor={id}>{format ? format(value) : value}</output>
      </div>
      <input id={id} type="range" min={min} max={max} step={step} value={value} aria-describedby={`${id}-hint`} onChange={(e) => onChange(Number(e.target.value))} />
      <p id={`${id}-hint`} className="hint">
        {hint}
      </p>
    </div>
  );
}

export function SettingsPanel(props: { settings: Settings; setSettings: (f: (s: Settings) => Settings) => void; config: ServerConfig | null; askKey: boolean }) {
  const { settings, setSettings, config, askKey } = props;
  const set = <K extends keyof Settings>(key: K) => (value: Settings[K]) => setSettings((s) => ({ ...s, [key]: value }));
  const maxLength = Math.min(config?.limits.max_tokens ?? 64, 64);
  const models = config?.models ?? [];
  return (
    <section className="card settings" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <div className="field">
        <label htmlFor="model">Model</label>
        <select id="model" value={settings.model || models[0]?.id || ''} onChange={(e) => set('model')(e.target.value)} disabled={models.length === 0}>
          {models.length === 0 && <option value="">(loading…)</option>}
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.id} · {m.context_length} tokens
            </option>
          ))}
        </select>
      </div>
      <Slider id="length" label="Length" hint="Tokens per suggestion" value={Math.min(settings.length, maxLength)} min={1} max={maxLength} step={1} onChange={set('length')} />
      <Slider id="temperature" label="Temperature" hint="0 always picks the likeliest token; higher is more surprising" value={settings.temperature} min={0} max={2} step={0.05} format={(v) => v.toFixed(2)} onChange={set('temperature')} />
      <Slider id="topk" label="Top-k" hint="Sample among the k likeliest tokens (0: all)" value={settings.topK} min={0} max={100} step={1} onChange={set('topK')} />
      <Slider id="topp" label="Top-p" hint="Sample among the likeliest tokens that make up p of the probability" value={settings.topP} min={0.05} max={1} step={0.01} format={(v) => v.toFixed(2)} onChange={set('topP')} />
      <div className="field">
        <label className="check" htmlFor="watermark">
          <input id="watermark" type="checkbox" checked={settings.watermark} aria-describedby="watermark-hint" onChange={(e) => set('watermark')(e.target.checked)} />
          Watermark suggestions
        </label>
        <p id="watermark-hint" className="hint">
          Marks generated text so the server can recognise it later (Likelihood → Detect watermark)
        </p>
      </div>
      {(askKey || config?.auth || settings.apiKey !== '') && (
        <div className="field">
          <label htmlFor="apikey">API key</label>
          <input id="apikey" type="password" autoComplete="off" value={settings.apiKey} onChange={(e) => set('apiKey')(e.target.value)} placeholder="The server's --api-key" />
        </div>
      )}
    </section>
  );
}
