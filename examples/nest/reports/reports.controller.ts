import { ConflictException, Controller, HttpCode, HttpException, HttpStatus, Post, Query, ServiceUnavailableException } from '@nestjs/common';
import { LockBusyError, RedisUnavailableError } from 'redkit';
import { ReportJob, type RebuildResult } from './report.job.js';

/**
 * `POST /api/reports/rebuild`: 200 with the fence; 409 while another instance rebuilds; 503 while
 * Redis is down or, for one lease after it restarted, while no grant is safe yet (`retryAfterMs`).
 */
@Controller('api/reports')
export class ReportsController {
  constructor(private readonly job: ReportJob) {}

  @Post('rebuild')
  @HttpCode(200)
  async rebuild(@Query('workMs') workMs = '200'): Promise<RebuildResult> {
    try {
      return await this.job.rebuild(Math.min(Math.max(Number(workMs) || 0, 0), 5000));
    } catch (err) {
      if (err instanceof LockBusyError && err.reason === 'restart-guard') {
        throw new HttpException(
          { statusCode: 503, message: 'Redis restarted moments ago; try again', retryAfterMs: err.retryAfterMs },
          HttpStatus.SERVICE_UNAVAILABLE,
        );
      }
      if (err instanceof LockBusyError) throw new ConflictException('a rebuild is already running');
      if (err instanceof RedisUnavailableError) throw new ServiceUnavailableException('locks are unavailable while Redis is down; try again');
      throw err;
    }
  }
}
