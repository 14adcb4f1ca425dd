import 'reflect-metadata';
import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type FactoryProvider,
  type InjectionToken,
  type ModuleMetadata,
  type OnApplicationShutdown,
  type OptionalFactoryDependency,
  type Provider,
  type Type,
} from '@nestjs/common';
import { createRedkit, Redkit, REDKIT_OPTION_KEYS, type RedkitInternals } from '../kit.js';
import { assertOptions } from '../options.js';
import { InvalidArgumentError } from '../errors.js';
import type { RedkitOptions } from '../config/index.js';
import type { NamespaceOptions } from '../cache/index.js';
import { RedkitThrottlerStorage, type RedkitThrottlerStorageOptions } from '../ratelimit/index.js';
import { REDIS_CLIENT, REDKIT, REDKIT_MODULE_OPTIONS, getCacheToken } from './tokens.js';
import {
  RedkitCacheService,
  RedkitJobsService,
  RedkitLeaderService,
  RedkitLockService,
  RedkitQueueService,
  RedkitRateLimitService,
  RedkitRealtimeService,
  RedkitSessionService,
} from './services.js';
import { RedkitHealthIndicator, createHealthController, type RedkitHealthControllerOptions } from './health.js';

/** What `forRoot` (or the `forRootAsync` factory) gives: the toolkit's options, or a toolkit to use. */
export interface RedkitModuleOptions extends RedkitOptions, RedkitInternals {
  /** Use this toolkit instead of creating one from the options above (it is then closed only if `closeOnShutdown`). */
  kit?: Redkit;
  /** Close the toolkit on application shutdown. Default: true when the module created it, false for a given `kit`. */
  closeOnShutdown?: boolean;
  /** Options of the `RedkitThrottlerStorage` provider (`onRedisDown`, `algorithm`). */
  throttler?: RedkitThrottlerStorageOptions;
}

/** Structural options: they shape the module, so they are given directly, never by an async factory. */
export interface RedkitModuleShape {
  /** Register the module globally: every module can inject its providers without importing it. Default false. */
  isGlobal?: boolean;
  /** Serve seed 002's health JSON (`true`: at `api/health`). Default off. */
  healthController?: boolean | RedkitHealthControllerOptions;
  /** Cache namespaces to provide, injectable with `@InjectCache(name)`. */
  caches?: Record<string, NamespaceOptions>;
}

/** A class that builds the module options (`forRootAsync({ useClass })` or `useExisting`). */
export interface RedkitOptionsFactory {
  createRedkitOptions(): RedkitModuleOptions | Promise<RedkitModuleOptions>;
}

/**
 * Options of `RedkitModule.forRootAsync`: the module options from `useFactory` (with `inject`ed
 * dependencies), or from a `RedkitOptionsFactory` class (`useClass`, or `useExisting` for one
 * provided elsewhere), resolved in the scope of `imports`.
 */
export interface RedkitModuleAsyncOptions extends RedkitModuleShape, Pick<ModuleMetadata, 'imports'> {
  useFactory?: (...args: any[]) => RedkitModuleOptions | Promise<RedkitModuleOptions>;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useClass?: Type<RedkitOptionsFactory>;
  useExisting?: Type<RedkitOptionsFactory>;
}

/** Closes the toolkit when the application shuts down (after every module's `onModuleDestroy`). */
@Injectable()
class RedkitLifecycle implements OnApplicationShutdown {
  readonly #kit: Redkit;
  readonly #close: boolean;
  constructor(@Inject(REDKIT) kit: Redkit, @Inject(REDKIT_MODULE_OPTIONS) options: RedkitModuleOptions) {
    this.#kit = kit;
    this.#close = options.closeOnShutdown ?? !options.kit;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.#close) await this.#kit.close();
  }
}

// Typed Records: tsc fails here when an option is added to an interface and not to its list.
const MODULE_KEYS: Record<keyof RedkitModuleShape | 'kit' | 'closeOnShutdown' | 'throttler', true> = {
  isGlobal: true,
  healthController: true,
  caches: true,
  kit: true,
  closeOnShutdown: true,
  throttler: true,
};
const ASYNC_OPTION_KEYS: Record<keyof RedkitModuleAsyncOptions, true> = {
  isGlobal: true,
  healthController: true,
  caches: true,
  imports: true,
  useFactory: true,
  inject: true,
  useClass: true,
  useExisting: true,
};
/** forRoot: the module's own keys and every key createRedkit takes. */
const ROOT_KEYS = [...Object.keys(MODULE_KEYS), ...REDKIT_OPTION_KEYS];
const ASYNC_KEYS = Object.keys(ASYNC_OPTION_KEYS);

const SERVICES = [
  RedkitCacheService,
  RedkitLockService,
  RedkitLeaderService,
  RedkitRateLimitService,
  RedkitQueueService,
  RedkitJobsService,
  RedkitRealtimeService,
  RedkitSessionService,
  RedkitHealthIndicator,
];

// Each forRoot is its own module: Nest would otherwise merge two forRoot calls whose metadata
// hashes alike (the options hide inside a factory, see below).
let nextModuleId = 0;

/**
 * The NestJS module: creates (or adopts) the toolkit and provides `REDIS_CLIENT` (the toolkit's own
 * ioredis client, `null` standalone), `REDKIT` / `Redkit`, one service per capability,
 * `RedkitThrottlerStorage` and `RedkitHealthIndicator`. The toolkit closes on application shutdown.
 */
@Module({})
export class RedkitModule {
  /** The module from static options (env is read too: `REDIS_URL`, …; none at all means standalone). */
  static forRoot(options: RedkitModuleOptions & RedkitModuleShape = {}): DynamicModule {
    assertOptions(options, ROOT_KEYS, 'RedkitModule.forRoot options');
    const { isGlobal, healthController, caches, ...kitOptions } = options;
    // A factory, not useValue: Nest hashes module metadata, and the options may hold a live toolkit.
    return buildRootModule({ isGlobal, healthController, caches }, { provide: REDKIT_MODULE_OPTIONS, useFactory: () => kitOptions }, []);
  }

  /** The module from options built by `useFactory` with `inject`ed dependencies from `imports`. */
  static forRootAsync(options: RedkitModuleAsyncOptions): DynamicModule {
    assertOptions(options, ASYNC_KEYS, 'RedkitModule.forRootAsync options');
    const given = [options.useFactory, options.useClass, options.useExisting].filter(Boolean).length;
    if (given !== 1)
      throw new InvalidArgumentError('options', `RedkitModule.forRootAsync needs exactly one of useFactory, useClass or useExisting (got ${given})`);
    const extra: Provider[] = [];
    let provider: FactoryProvider;
    if (options.useFactory) {
      provider = { provide: REDKIT_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] };
    } else {
      const factoryClass = (options.useClass ?? options.useExisting)!;
      if (options.useClass) extra.push(options.useClass);
      provider = { provide: REDKIT_MODULE_OPTIONS, useFactory: (factory: RedkitOptionsFactory) => factory.createRedkitOptions(), inject: [factoryClass] };
    }
    return buildRootModule(options, provider, options.imports ?? [], extra);
  }

  /**
   * More cache namespaces for `@InjectCache(name)` in a feature module. The toolkit must be
   * visible there: a global root (`isGlobal: true`) or an import of the module exporting it.
   */
  static forFeature(options: { caches: Record<string, NamespaceOptions> }): DynamicModule {
    const providers = cacheProviders(options.caches);
    return {
      module: RedkitModule,
      providers: [...providers, { provide: `REDKIT_MODULE_ID:${nextModuleId++}`, useValue: true }],
      exports: providers.map((p) => p.provide),
    };
  }
}

function buildRootModule(
  shape: RedkitModuleShape,
  optionsProvider: Provider,
  imports: NonNullable<ModuleMetadata['imports']>,
  extra: Provider[] = [],
): DynamicModule {
  const providers: Provider[] = [
    optionsProvider,
    ...extra,
    { provide: `REDKIT_MODULE_ID:${nextModuleId++}`, useValue: true },
    {
      provide: REDKIT,
      useFactory: (opts: RedkitModuleOptions) => {
        const { kit, closeOnShutdown: _close, throttler: _throttler, ...kitOptions } = opts;
        return kit ? kit.ready() : createRedkit(kitOptions);
      },
      inject: [REDKIT_MODULE_OPTIONS],
    },
    { provide: Redkit, useExisting: REDKIT },
    // Null in standalone mode: `@Optional() @Inject(REDIS_CLIENT)` consumers branch on it.
    { provide: REDIS_CLIENT, useFactory: (kit: Redkit) => kit.redis, inject: [REDKIT] },
    {
      provide: RedkitThrottlerStorage,
      useFactory: (kit: Redkit, opts: RedkitModuleOptions) => new RedkitThrottlerStorage(kit, opts.throttler),
      inject: [REDKIT, REDKIT_MODULE_OPTIONS],
    },
    ...SERVICES,
    RedkitLifecycle,
    ...cacheProviders(shape.caches ?? {}),
  ];
  const controllers = shape.healthController ? [createHealthController(shape.healthController === true ? {} : shape.healthController)] : [];
  return {
    module: RedkitModule,
    global: shape.isGlobal ?? false,
    imports,
    providers,
    controllers,
    exports: [REDKIT, Redkit, REDIS_CLIENT, REDKIT_MODULE_OPTIONS, RedkitThrottlerStorage, ...SERVICES, ...Object.keys(shape.caches ?? {}).map(getCacheToken)],
  };
}

function cacheProviders(caches: Record<string, NamespaceOptions>): Array<FactoryProvider & { provide: string }> {
  return Object.entries(caches).map(([name, options]) => ({
    provide: getCacheToken(name),
    useFactory: (kit: Redkit) => kit.cache.namespace(name, options),
    inject: [REDKIT],
  }));
}
