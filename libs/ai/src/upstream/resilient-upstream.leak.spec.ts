import type { ChatCompletion } from 'openai/resources/chat/completions';
import { AiTestingModule, createAiTestingModule } from '../../test/ai-testing-module';
import { aChatCompletion } from '../../test/factories';
import { liveCount } from '../../test/gc';
import { Attempt, ResilientUpstream } from './resilient-upstream';

const CALLS = 2_000;

describe(`${ResilientUpstream.name} memory`, () => {
  let testing: AiTestingModule;

  afterEach(() => testing?.moduleRef.close());

  it('should keep no attempt signal alive once its call has ended', async () => {
    testing = await createAiTestingModule();
    const signals: WeakRef<AbortSignal>[] = [];
    // Like undici, the transport listens to the attempt's signal and never removes its listener.
    const attempt: Attempt<ChatCompletion> = async (_model, control) => {
      control.signal.addEventListener('abort', () => undefined);
      signals.push(new WeakRef(control.signal));
      return { data: aChatCompletion() };
    };

    for (let i = 0; i < CALLS; i++) await testing.resilient.call('gpt-4o', {}, attempt);

    expect(signals).toHaveLength(CALLS);
    expect(await liveCount(signals)).toBeLessThan(CALLS / 100);
  });
});
