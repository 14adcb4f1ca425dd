import { Controller, Get } from '@nestjs/common';
import { InjectRedkit } from 'redkit/nestjs';
import type { Redkit } from 'redkit';
import { CleanupScheduler } from './cleanup.scheduler.js';

/** `GET /api/scheduler`: whether this instance leads the cleanup and how often it ran it. */
@Controller('api/scheduler')
export class SchedulerController {
  constructor(
    private readonly scheduler: CleanupScheduler,
    @InjectRedkit() private readonly kit: Redkit,
  ) {}

  @Get()
  status(): { instanceId: string; leader: boolean; runs: number } {
    return { instanceId: this.kit.instanceId, leader: this.scheduler.isLeader, runs: this.scheduler.runs };
  }
}
