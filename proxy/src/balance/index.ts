// The outbound balancer (P2C over peak-EWMA, weights, draining, failure accrual).
export { Balancer, type BalancerOptions, type EndpointSpec, type EndpointStatus, type Lease } from './balancer.js';
export { DEFAULT_FAILURE_ACCRUAL, type FailureAccrualOptions, type AccrualState } from './failure-accrual.js';
export { PeakEwma } from './peak-ewma.js';
