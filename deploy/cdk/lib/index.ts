export * from './code';
export * from './function';
export * from './variables';
