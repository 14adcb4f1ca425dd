// The shape every doctor step file returns, separate so step files (ACL, Sentinel, …) need not import doctor.ts.

/**
 * One line of the doctor's report. A step file exports an async check that returns (or, when a
 * check yields several lines, appends) DoctorSteps; doctor.ts decides the order and the exit code.
 */
export interface DoctorStep {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  fix?: string;
}
