import type { CommandModule } from 'yargs';
import { OpnasError } from '../../spaces/base/errors.js';
import { note, print } from '../output.js';
import { serveStatic } from '../static-server.js';

interface Args {
  dir: string;
  port: number;
  host: string;
  json?: boolean;
}

export const serveCommand: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'the folder to serve (opnas export RUN --web DIR writes one)' })
      .option('port', { alias: 'p', type: 'number', default: 8080, describe: 'port to listen on (0: any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (0.0.0.0: every interface, visible to other machines)' })
      .example('$0 serve web', 'serve the page; open the printed URL in a browser')
      .example('$0 serve web --port 0', 'on a free port') as never,
  handler: async (argv) => {
    if (!Number.isInteger(argv.port) || argv.port < 0 || argv.port > 65535) throw new OpnasError(`--port must be an integer 0..65535, got ${argv.port}`);
    const s = await serveStatic(argv.dir, { port: argv.port, host: argv.host });
    // the handlers go in before the URL is printed: whoever reads it may stop the server at once
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        process.off('SIGHUP', stop);
        void s.close().then(done);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      process.on('SIGHUP', stop);
      if (argv.json) print(JSON.stringify({ url: s.url, dir: argv.dir }));
      else print(s.url);
      note(`serving ${argv.dir} at ${s.url} (Ctrl-C to stop)`);
    });
    note('stopped');
  },
};
