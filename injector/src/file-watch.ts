// The injector follows its mounted webhook certificate and trust anchors with the shared watcher.
export { watchFiles, type FileWatch } from '@weft/common/file-watch';
