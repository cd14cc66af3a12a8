import { Test, TestingModule } from '@nestjs/testing';
import { AiModuleOptions } from '../src/ai-module-options';
import { AiModule } from '../src/ai.module';
import { AiService } from '../src/ai.service';
import { BreakerRegistry } from '../src/upstream/breaker-registry';
import { ResilientUpstream } from '../src/upstream/resilient-upstream';
import { RetryBudget } from '../src/upstream/retry-budget';
import { UpstreamClient } from '../src/upstream/upstream-client';
import { anAiModuleOptions } from './factories';
import { FakeUpstreamClient } from './fake-upstream-client';

export interface AiTestingModule {
  moduleRef: TestingModule;
  ai: AiService;
  resilient: ResilientUpstream;
  breakers: BreakerRegistry;
  budget: RetryBudget;
  upstream: FakeUpstreamClient;
}

/** `AiModule.forRoot(options)` as an app imports it, with the fake in place of the OpenAI client. */
export async function createAiTestingModule(
  options: Partial<AiModuleOptions> = {},
  upstream = new FakeUpstreamClient(),
): Promise<AiTestingModule> {
  const moduleRef = await Test.createTestingModule({ imports: [AiModule.forRoot(anAiModuleOptions(options))] })
    .overrideProvider(UpstreamClient)
    .useValue(upstream)
    .compile();
  return {
    moduleRef,
    ai: moduleRef.get(AiService),
    resilient: moduleRef.get(ResilientUpstream),
    breakers: moduleRef.get(BreakerRegistry),
    budget: moduleRef.get(RetryBudget),
    upstream,
  };
}
