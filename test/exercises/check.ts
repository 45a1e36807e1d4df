// npm run check -- 04: run the tests of exercise 04 against your exercises/04-*.ts (all when no number).
import { exerciseTests, runExerciseTests } from './run.js';

const number = process.argv[2];
if (number !== undefined && !/^\d\d$/.test(number)) {
  console.error(`npm run check: '${number}' is not an exercise number, expected two digits, e.g. npm run check -- 00`);
  process.exit(2);
}
const files = exerciseTests(number);
if (files.length === 0) {
  console.error(`npm run check: no tests for exercise ${number} in test/exercises/`);
  process.exit(2);
}
const result = runExerciseTests(files, 'exercises');
if (result.status === 0) {
  console.log(`\nAll tests pass for ${number ? `exercise ${number}` : 'every exercise'}. Well done.`);
} else {
  console.log(`\nSome tests fail. A message starting 'TODO' means that function is still a stub in exercises/;`);
  console.log(`otherwise compare the expected and received values above. Solutions are in solutions/.`);
}
process.exit(result.status ?? 1);
