import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';

/** The repository's Cargo.toml, when this library is used from a clone of the repository. */
export const REPOSITORY_MANIFEST = path.resolve(__dirname, '..', '..', '..', 'Cargo.toml');

/** Options for building the authorizer from its Rust sources with cargo-lambda. */
export interface CargoProjectOptions {
  /**
   * The authorizer's Cargo.toml.
   *
   * @default the Cargo.toml of the repository this library lives in
   */
  readonly manifestPath?: string;
  /**
   * More flags for `cargo lambda build` (it always gets `--release --bin authorizer
   * --no-default-features` and `--arm64` or `--x86-64`).
   *
   * @default none
   */
  readonly cargoLambdaFlags?: string[];
}

/** The function options `AuthorizerCode` turns into a function; always `provided.al2023`, `bootstrap`. */
export type AuthorizerFunctionOptions = Omit<lambda.FunctionOptions, 'architecture'> & {
  readonly architecture: lambda.Architecture;
};

/**
 * Where the authorizer's `bootstrap` comes from.
 *
 * - `fromCargoProject()` builds it at synth time with cargo-lambda (cargo-lambda-cdk's
 *   `RustFunction`; needs cargo-lambda and zig, `pip install cargo-lambda ziglang`, or Docker).
 * - `fromPackageZip()` takes the `bootstrap.zip` that `scripts/package` built.
 * - `fromBootstrapDirectory()` takes a directory holding an executable `bootstrap` (an unzipped
 *   package, or a prebuilt test asset).
 */
export abstract class AuthorizerCode {
  /** Build from the Rust sources at synth time (cargo-lambda-cdk `RustFunction`). */
  public static fromCargoProject(options: CargoProjectOptions = {}): AuthorizerCode {
    return new CargoProjectCode(options);
  }

  /**
   * The zip `scripts/package` builds (`$CARGO_TARGET_DIR/lambda/authorizer/bootstrap.zip`).
   * Build it for the function's architecture: `scripts/package --arm64` for the default arm64.
   */
  public static fromPackageZip(zipPath: string): AuthorizerCode {
    return new AssetCode(zipPath, 'file');
  }

  /** A directory holding an executable `bootstrap`. */
  public static fromBootstrapDirectory(directory: string): AuthorizerCode {
    return new AssetCode(directory, 'directory');
  }

  /** @internal Creates the function: runtime `provided.al2023`, handler `bootstrap`. */
  public abstract _createFunction(scope: Construct, id: string, options: AuthorizerFunctionOptions): lambda.Function;
}

class CargoProjectCode extends AuthorizerCode {
  constructor(private readonly options: CargoProjectOptions) {
    super();
  }

  public _createFunction(scope: Construct, id: string, options: AuthorizerFunctionOptions): lambda.Function {
    return new RustFunction(scope, id, {
      ...options,
      runtime: 'provided.al2023',
      manifestPath: this.options.manifestPath ?? REPOSITORY_MANIFEST,
      binaryName: 'authorizer',
      bundling: {
        architecture: options.architecture,
        // The Lambda binary leaves out `serve` (feature `local`), as scripts/package does.
        cargoLambdaFlags: ['--no-default-features', ...(this.options.cargoLambdaFlags ?? [])],
      },
    });
  }
}

class AssetCode extends AuthorizerCode {
  constructor(
    private readonly assetPath: string,
    private readonly kind: 'file' | 'directory',
  ) {
    super();
  }

  public _createFunction(scope: Construct, id: string, options: AuthorizerFunctionOptions): lambda.Function {
    const resolved = path.resolve(this.assetPath);
    const stat = fs.statSync(resolved, { throwIfNoEntry: false });
    if (this.kind === 'file' && !stat?.isFile()) {
      throw new Error(`AuthorizerCode.fromPackageZip: no such file: ${resolved} (run scripts/package first)`);
    }
    if (this.kind === 'directory' && !fs.statSync(path.join(resolved, 'bootstrap'), { throwIfNoEntry: false })?.isFile()) {
      throw new Error(`AuthorizerCode.fromBootstrapDirectory: ${resolved} holds no file named bootstrap`);
    }
    return new lambda.Function(scope, id, {
      ...options,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(resolved),
    });
  }
}
