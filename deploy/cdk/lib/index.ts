export * from './code';
export * from './function';
export * from './identity';
export * from './variables';
