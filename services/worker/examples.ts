// Moved to shared/ (the validator and offline evaluation use it too); kept for old imports.
export * from '../../shared/examples.ts';
