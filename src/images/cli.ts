/** PLACEHOLDER: replaced by the module's owner. */
export async function run(_args: string[]): Promise<number> {
  console.error('not implemented yet');
  return 2;
}
